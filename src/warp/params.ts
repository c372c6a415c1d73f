/**
 * Parameters of the warping network as an ordered, named store of tf.Variables, seeded initialisation, and an
 * AdamW optimiser (Adam + decoupled weight decay, Loshchilov & Hutter; tfjs has Adam but no AdamW) whose state can
 * be exported to / imported from plain Float32Arrays for checkpoints (paper App. B.4: AdamW, lr 1e-4).
 */
import * as tf from '@tensorflow/tfjs';
import { SeededRng } from './seeded-rng.js';

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export type InitKind =
  | { kind: 'he'; fanIn: number } // N(0, 2/fanIn), for LeakyReLU conv/dense layers
  | { kind: 'normal'; std: number }
  | { kind: 'zeros' }
  | { kind: 'ones' };

/** Ordered named variables. Names are local to the store (tf variable names are left auto-generated). */
export class ParamStore {
  private readonly entries = new Map<string, tf.Variable>();

  constructor(private readonly rng: SeededRng) {}

  /** Create (once) and return the variable `name`, initialised from the store's RNG. */
  get(name: string, shape: number[], init: InitKind): tf.Variable {
    const existing = this.entries.get(name);
    if (existing) return existing;
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (init.kind === 'he') {
      const std = Math.sqrt(2 / init.fanIn);
      for (let i = 0; i < size; i++) data[i] = this.rng.normal() * std;
    } else if (init.kind === 'normal') {
      for (let i = 0; i < size; i++) data[i] = this.rng.normal() * init.std;
    } else if (init.kind === 'ones') {
      data.fill(1);
    }
    const v = tf.variable(tf.tensor(data, shape), true);
    this.entries.set(name, v);
    return v;
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  variables(): tf.Variable[] {
    return [...this.entries.values()];
  }

  count(): number {
    let n = 0;
    for (const v of this.entries.values()) n += v.size;
    return n;
  }

  exportArrays(): NamedArray[] {
    return [...this.entries.entries()].map(([name, v]) => ({
      name,
      shape: [...v.shape],
      data: v.dataSync() as Float32Array,
    }));
  }

  /** Overwrite every variable from arrays (names and shapes must match exactly). */
  importArrays(arrays: NamedArray[]): void {
    const byName = new Map(arrays.map((a) => [a.name, a]));
    if (byName.size !== this.entries.size) {
      throw new Error(`checkpoint has ${byName.size} parameter arrays, the network has ${this.entries.size}`);
    }
    for (const [name, v] of this.entries) {
      const a = byName.get(name);
      if (!a) throw new Error(`checkpoint lacks parameter ${name}`);
      if (a.shape.join('x') !== v.shape.join('x')) {
        throw new Error(`parameter ${name}: checkpoint shape ${a.shape.join('x')} != network ${v.shape.join('x')}`);
      }
      tf.tidy(() => v.assign(tf.tensor(a.data, a.shape)));
    }
  }

  dispose(): void {
    for (const v of this.entries.values()) v.dispose();
    this.entries.clear();
  }
}

export interface AdamWOptions {
  learningRate: number;
  beta1?: number; // 0.9
  beta2?: number; // 0.999
  epsilon?: number; // 1e-8
  /** Decoupled weight decay (PyTorch AdamW default 0.01). */
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  m: NamedArray[];
  v: NamedArray[];
}

/** AdamW: p ← p − lr·wd·p; m,v as Adam; p ← p − lr·m̂/(√v̂ + ε). */
export class AdamW {
  learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(private readonly params: ParamStore, opts: AdamWOptions) {
    this.learningRate = opts.learningRate;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.epsilon = opts.epsilon ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
  }

  get steps(): number {
    return this.step;
  }

  private slot(map: Map<string, tf.Variable>, name: string, like: tf.Variable): tf.Variable {
    let s = map.get(name);
    if (!s) {
      s = tf.variable(tf.zerosLike(like), false);
      map.set(name, s);
    }
    return s;
  }

  /** Apply one update; grads keyed by parameter name (missing = no gradient, parameter untouched). */
  apply(grads: Map<string, tf.Tensor>): void {
    this.step += 1;
    const t = this.step;
    const lr = this.learningRate;
    const bc1 = 1 - this.beta1 ** t;
    const bc2 = 1 - this.beta2 ** t;
    const names = this.params.names();
    const vars = this.params.variables();
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const p = vars[i]!;
      const g = grads.get(name);
      if (!g) continue;
      const m = this.slot(this.m, name, p);
      const v = this.slot(this.v, name, p);
      tf.tidy(() => {
        const mNew = m.mul(this.beta1).add(g.mul(1 - this.beta1));
        const vNew = v.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        m.assign(mNew);
        v.assign(vNew);
        const update = mNew.div(bc1).div(vNew.div(bc2).sqrt().add(this.epsilon)).mul(lr);
        const decayed = this.weightDecay > 0 ? p.mul(1 - lr * this.weightDecay) : p;
        p.assign(decayed.sub(update));
      });
    }
  }

  exportState(): AdamWState {
    const dump = (map: Map<string, tf.Variable>): NamedArray[] =>
      [...map.entries()].map(([name, s]) => ({ name, shape: [...s.shape], data: s.dataSync() as Float32Array }));
    return { step: this.step, m: dump(this.m), v: dump(this.v) };
  }

  importState(state: AdamWState): void {
    this.disposeSlots();
    this.step = state.step;
    for (const a of state.m) this.m.set(a.name, tf.variable(tf.tensor(a.data, a.shape), false));
    for (const a of state.v) this.v.set(a.name, tf.variable(tf.tensor(a.data, a.shape), false));
  }

  private disposeSlots(): void {
    for (const s of this.m.values()) s.dispose();
    for (const s of this.v.values()) s.dispose();
    this.m.clear();
    this.v.clear();
  }

  dispose(): void {
    this.disposeSlots();
  }
}
