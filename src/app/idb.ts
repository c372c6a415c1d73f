/**
 * A small promise face over IndexedDB for the app: one database, object stores with string keys, prefix listing.
 * Runs in the page and in the worker (both see the same origin's database).
 */

export const DB_NAME = 'medpersam';
const DB_VERSION = 1;

/** Object stores: run state and outputs (keys "<run>/<kind>/…"), remembered model files and settings, embeddings. */
export type StoreName = 'runs' | 'models' | 'embeddings';

function promised<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

export class Idb {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(name = DB_NAME): Promise<Idb> {
    const req = indexedDB.open(name, DB_VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      for (const s of ['runs', 'models', 'embeddings'] as const) if (!db.objectStoreNames.contains(s)) db.createObjectStore(s);
    };
    return new Idb(await promised(req));
  }

  private store(name: StoreName, mode: IDBTransactionMode): IDBObjectStore {
    return this.db.transaction(name, mode).objectStore(name);
  }

  async get<T>(store: StoreName, key: string): Promise<T | undefined> {
    return (await promised(this.store(store, 'readonly').get(key))) as T | undefined;
  }

  /** Resolves when the transaction has committed (so a crash right after cannot lose it). */
  put(store: StoreName, key: string, value: unknown): Promise<void> {
    const tx = this.db.transaction(store, 'readwrite');
    tx.objectStore(store).put(value, key);
    return new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB write failed'));
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB write aborted (storage full?)'));
    });
  }

  async has(store: StoreName, key: string): Promise<boolean> {
    return (await promised(this.store(store, 'readonly').count(key))) > 0;
  }

  async delete(store: StoreName, key: string): Promise<void> {
    await promised(this.store(store, 'readwrite').delete(key));
  }

  /** Keys that start with `prefix`, sorted. */
  async keys(store: StoreName, prefix: string): Promise<string[]> {
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
    return (await promised(this.store(store, 'readonly').getAllKeys(range))) as string[];
  }

  async deletePrefix(store: StoreName, prefix: string): Promise<void> {
    await promised(this.store(store, 'readwrite').delete(IDBKeyRange.bound(prefix, `${prefix}\uffff`)));
  }

  close(): void {
    this.db.close();
  }
}
