// A textarea with a line-number gutter and error bands behind the offending lines.
//
// The textarea stays a plain textarea (native keyboard, selection, undo and
// screen-reader support); the gutter and the bands are aria-hidden decoration
// kept in step with its scroll position. Lines never wrap (wrap="off"), so
// line N is always at padding + (N-1) * line-height.

export class LineEditor {
  constructor({ textarea, gutter, marks }) {
    this.textarea = textarea;
    this.gutter = gutter;
    this.marks = marks;
    this.lineCount = 0;
    this.markedLines = [];
    this.gutterInner = document.createElement("span");
    this.gutterInner.className = "gutter-inner";
    gutter.textContent = "";
    gutter.appendChild(this.gutterInner);
    this.marksInner = document.createElement("div");
    this.marksInner.style.position = "absolute";
    this.marksInner.style.inset = "0";
    marks.appendChild(this.marksInner);
    textarea.addEventListener("scroll", () => this.syncScroll());
    this.refreshGutter();
  }

  get value() {
    return this.textarea.value;
  }
  set value(text) {
    this.textarea.value = text;
    this.refreshGutter();
    this.textarea.scrollTop = 0;
    this.syncScroll();
  }

  metrics() {
    const cs = getComputedStyle(this.textarea);
    return { line: parseFloat(cs.lineHeight) || 20, pad: parseFloat(cs.paddingTop) || 8 };
  }

  /** Re-renders the line numbers when the number of lines changed. */
  refreshGutter() {
    const text = this.textarea.value;
    let n = 1;
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
    if (n !== this.lineCount) {
      this.lineCount = n;
      const parts = new Array(n);
      for (let i = 0; i < n; i++) parts[i] = String(i + 1);
      this.gutterInner.textContent = parts.join("\n");
      this.renderMarks();
    }
  }

  /** Marks these 1-based line numbers (errors). */
  markLines(lines) {
    this.markedLines = [...new Set(lines)].filter((l) => Number.isInteger(l) && l >= 1).sort((a, b) => a - b);
    this.renderMarks();
  }

  renderMarks() {
    const { line, pad } = this.metrics();
    // The gutter's own left part stays covered too: bands span the whole editor width.
    this.marksInner.textContent = "";
    for (const l of this.markedLines.slice(0, 200)) {
      const band = document.createElement("div");
      band.className = "mark";
      band.dataset.line = String(l);
      band.style.top = `${pad + (l - 1) * line}px`;
      this.marksInner.appendChild(band);
    }
    this.syncScroll();
  }

  syncScroll() {
    const y = this.textarea.scrollTop;
    this.gutterInner.style.transform = `translateY(${-y}px)`;
    this.marksInner.style.transform = `translateY(${-y}px)`;
  }

  /** Puts the caret at a 1-based line and column (column in characters) and scrolls it into view. */
  goTo(lineNo, column = 1) {
    const text = this.textarea.value;
    let offset = 0;
    for (let l = 1; l < lineNo; l++) {
      const nl = text.indexOf("\n", offset);
      if (nl < 0) break;
      offset = nl + 1;
    }
    // Columns count Unicode scalar values; JS strings index UTF-16 units.
    let units = 0;
    let chars = 1;
    while (chars < column && offset + units < text.length && text[offset + units] !== "\n") {
      const cp = text.codePointAt(offset + units);
      units += cp > 0xffff ? 2 : 1;
      chars++;
    }
    const pos = offset + units;
    this.textarea.focus();
    this.textarea.setSelectionRange(pos, pos);
    const { line, pad } = this.metrics();
    const top = pad + (lineNo - 1) * line;
    const view = this.textarea.clientHeight;
    if (top < this.textarea.scrollTop || top + line > this.textarea.scrollTop + view) {
      this.textarea.scrollTop = Math.max(0, top - view / 3);
    }
    this.syncScroll();
  }
}
