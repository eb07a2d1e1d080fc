/** Storage of the TypeScript backend: plain typed arrays. */
export type FloatArray = Float32Array | Float64Array;
/** Any storage of the TypeScript backend. */
export type TsStorage = Float32Array | Float64Array | Int32Array | Uint8Array;
