import DataLoader from 'dataloader';

/** A value now, or a promise of it: what a resolver may return (graphql-js completes a plain value at once). */
export type Now<T> = T | Promise<T>;

/** `f` applied to `value`: at once when it is here already, after it arrives when it is a promise. */
export function andThen<T, U>(value: Now<T>, f: (v: T) => Now<U>): Now<U> {
  return value instanceof Promise ? value.then(f) : f(value);
}

/**
 * A per-request DataLoader that also answers at once for keys the request already holds (loaded or primed).
 *
 * Why: every promise a field resolver returns costs graphql-js a microtask and, for the object holding it, a
 * `promiseForObject` that waits for all its fields; on a 50-case dashboard that was ~750 promises for values
 * already in memory (primed by the page's own statement), and promise handling (runMicrotasks,
 * promiseForObject) was ~15% of the hub's CPU (`npm run bench`, issue 7). `get` returns the value itself when
 * the request has it, the loader's promise otherwise; the values are the same either way, so batching, the
 * statements and what a field shows do not change.
 */
export class KnownLoader<K, V> extends DataLoader<K, V> {
  private readonly known: Map<K, V>;
  private readonly cached: Map<K, Promise<V>>;

  constructor(batch: DataLoader.BatchLoadFn<K, V>) {
    const known = new Map<K, V>();
    const cached = new Map<K, Promise<V>>();
    super(
      async (keys) => {
        const values = await batch(keys);
        keys.forEach((k, i) => {
          const v = values[i];
          if (!(v instanceof Error)) known.set(k, v);
        });
        return values;
      },
      { cacheMap: cached },
    );
    this.known = known;
    this.cached = cached;
  }

  /** The value now when this request holds it, else the loader's (batched) promise. */
  get(key: K): Now<V> {
    return this.known.has(key) ? (this.known.get(key) as V) : this.load(key);
  }

  /** The value when this request holds it, else undefined; loads nothing. */
  peek(key: K): V | undefined {
    return this.known.get(key);
  }

  override prime(key: K, value: V | PromiseLike<V> | Error): this {
    // As DataLoader: a key it already holds (even still loading) keeps its value, so `get` and `load` agree.
    if (!this.cached.has(key) && !(value instanceof Error) && !isPromiseLike(value)) this.known.set(key, value);
    return super.prime(key, value);
  }

  override clear(key: K): this {
    this.known.delete(key);
    return super.clear(key);
  }

  override clearAll(): this {
    this.known.clear();
    return super.clearAll();
  }
}

function isPromiseLike<T>(v: unknown): v is PromiseLike<T> {
  return typeof (v as PromiseLike<T> | null)?.then === 'function';
}
