/** Float storage of the TypeScript backend. */
export type FloatArray = Float32Array | Float64Array;
/** Storage arithmetic works on (everything but int64). */
export type NumArray = Float32Array | Float64Array | Int32Array;
/** Any storage of the TypeScript backend: one typed array per dtype (BigInt64Array for int64). */
export type TsStorage = Float32Array | Float64Array | Int32Array | BigInt64Array;
