//! Deterministic simulation of the directive store: the real reducer
//! against a simulated etcd, link and clock, on simulated time.
//!
//! Each seed builds a scenario (configuration, latencies, a timeline of
//! writes by concurrent publishers, compactions, cancels, clock jumps,
//! silent and FIN partitions, member restarts and slow links) and plays the
//! driver's part: perform each command, wake at `poll_timeout`, feed etcd's
//! answers. After every reducer call the invariants are checked: the
//! observed and applied revisions never go back, nothing invalid is applied,
//! an expiry is never extended, every stall is detected within the
//! configured deadline, and after every fault heals the store is live on the
//! newest revision within the bound the backoff schedule promises.
//!
//! `SIM_SEED=n` runs one seed; `SIM_EVENTS=n` sets how many reducer events
//! the run covers (default 1,000,000). A failure is shrunk to the fewest
//! timeline entries that still fail and printed with its trace.

mod model;
mod scenario;
mod world;

use scenario::Scenario;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Drops timeline entries one at a time while the scenario still fails.
fn shrink(mut failing: Scenario) -> (Scenario, world::Failure) {
    let mut failure = match world::run(&failing) {
        Err(f) => f,
        Ok(_) => unreachable!("shrink starts from a failing scenario"),
    };
    let mut i = 0;
    let mut budget = 2_000;
    while i < failing.timeline.len() && budget > 0 {
        budget -= 1;
        let candidate = failing.without(i);
        match world::run(&candidate) {
            Err(f) => {
                failing = candidate;
                failure = f;
            }
            Ok(_) => i += 1,
        }
    }
    (failing, failure)
}

#[test]
fn the_store_keeps_its_invariants_under_simulated_faults() {
    let target = env_u64("SIM_EVENTS").unwrap_or(1_000_000);
    let seeds: Box<dyn Iterator<Item = u64>> = match env_u64("SIM_SEED") {
        Some(seed) => Box::new(std::iter::once(seed)),
        None => Box::new(0..),
    };
    let started = std::time::Instant::now();
    let (mut events, mut runs, mut faults, mut applied) = (0u64, 0u64, 0u64, 0u64);
    for seed in seeds {
        let scenario = Scenario::generate(seed);
        match world::run(&scenario) {
            Ok(stats) => {
                events += stats.events;
                faults += stats.faults;
                applied += stats.applied;
                runs += 1;
            }
            Err(_) => {
                let (minimal, failure) = shrink(scenario);
                let mut report = format!(
                    "seed {seed} failed at t={} ms: {}\n\
                     reproduce: SIM_SEED={seed} cargo test -p directive-core --test simulation\n\
                     minimal timeline ({} entries):\n",
                    failure.at,
                    failure.what,
                    minimal.timeline.len()
                );
                for (t, action) in &minimal.timeline {
                    report.push_str(&format!("  t={t:>7} {action:?}\n"));
                }
                report.push_str(&format!(
                    "config: {:?}\ntrace (last steps):\n",
                    minimal.config
                ));
                for line in &failure.trace {
                    report.push_str(&format!("  {line}\n"));
                }
                panic!("{report}");
            }
        }
        if events >= target {
            break;
        }
    }
    eprintln!(
        "simulation: {runs} seeds, {events} reducer events, {faults} faults, {applied} snapshots applied in {:.1?}",
        started.elapsed()
    );
    assert!(
        events >= target.min(1) && runs > 0,
        "the simulation ran nothing"
    );
}
