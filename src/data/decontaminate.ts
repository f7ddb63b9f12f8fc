// Exact decontamination of train against held-out, as SlimPajama's dedup_train.py: the SHA-256 of
// each held-out document's text goes into a set; a train document whose SHA-256 is in the set is
// dropped. Memory: 32 bytes per held-out document (hex keys in a Set, ~100 B each in practice).
import { createHash } from 'node:crypto';

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export class Decontaminator {
  private readonly heldOut = new Set<string>();

  /** Registers a held-out document. */
  addHeldOut(text: string): void {
    this.heldOut.add(sha256Hex(text));
  }

  get size(): number {
    return this.heldOut.size;
  }

  /** True when a train document equals (byte for byte) a held-out one and must be dropped. */
  isContaminated(text: string): boolean {
    return this.heldOut.size > 0 && this.heldOut.has(sha256Hex(text));
  }
}
