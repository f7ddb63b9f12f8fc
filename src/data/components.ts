// Connected components of the duplicate graph by union-find (disjoint sets) over document indices.
// The representative of each set is its smallest index, so "first in input order" is the root and the
// result does not depend on the order in which edges arrive.

export class UnionFind {
  private parent: Int32Array;
  private n = 0;

  constructor(capacity = 1024) {
    this.parent = new Int32Array(Math.max(1, capacity));
  }

  /** Number of elements. */
  get size(): number {
    return this.n;
  }

  /** Adds a singleton set and returns its index (elements are 0, 1, 2, … in order of addition). */
  add(): number {
    if (this.n === this.parent.length) {
      const grown = new Int32Array(this.parent.length * 2);
      grown.set(this.parent);
      this.parent = grown;
    }
    this.parent[this.n] = this.n;
    return this.n++;
  }

  /** The representative (smallest index) of x's set, with path halving. */
  find(x: number): number {
    const p = this.parent;
    while (p[x] !== x) {
      p[x] = p[p[x]];
      x = p[x];
    }
    return x;
  }

  /** Merges the sets of x and y; the smaller representative becomes the root. Returns true if they were apart. */
  union(x: number, y: number): boolean {
    const rx = this.find(x);
    const ry = this.find(y);
    if (rx === ry) return false;
    if (rx < ry) this.parent[ry] = rx;
    else this.parent[rx] = ry;
    return true;
  }

  /** Bytes held. */
  get bytes(): number {
    return this.parent.byteLength;
  }
}
