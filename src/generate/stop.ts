// From token bytes to streamed text: complete UTF-8 characters only, and stop strings cut out.
//
// A token may end inside a multi-byte character (byte-level BPE splits emoji and CJK); a streaming
// TextDecoder keeps the incomplete bytes until the character completes, so the pieces concatenate to
// the one-shot decode of all the bytes. Text that could still grow into a stop string (a suffix that is
// a prefix of one) is held back until the next tokens decide; a stop string, once complete, ends the
// text just before it.

export class TextStream {
  // ignoreBOM: a generated U+FEFF is text like any other, not a byte-order mark to strip.
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private held = '';
  private done = false;

  constructor(private readonly stops: readonly string[]) {}

  /** True once a stop string was found (or finish was called): nothing more will be emitted. */
  get stopped(): boolean {
    return this.done;
  }

  /**
   * Adds a token's bytes; returns the text that is now decided. After a stop string completes, `stopped`
   * turns true and the returned text is what precedes the stop string.
   */
  push(bytes: Uint8Array): string {
    if (this.done) return '';
    return this.release(this.held + this.decoder.decode(bytes, { stream: true }), false);
  }

  /** Ends the text: returns what was held back, with any incomplete character decoded as U+FFFD. */
  finish(): string {
    if (this.done) return '';
    const text = this.release(this.held + this.decoder.decode(), true);
    this.done = true;
    return text;
  }

  private release(text: string, final: boolean): string {
    let cut = -1;
    for (const s of this.stops) {
      const at = text.indexOf(s);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.done = true;
      this.held = '';
      return text.slice(0, cut);
    }
    const keep = final ? 0 : this.pendingStopPrefix(text);
    this.held = text.slice(text.length - keep);
    return text.slice(0, text.length - keep);
  }

  /** Length of the longest suffix of text that is a proper prefix of some stop string. */
  private pendingStopPrefix(text: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let len = Math.min(s.length - 1, text.length); len > best; len--) {
        if (text.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}
