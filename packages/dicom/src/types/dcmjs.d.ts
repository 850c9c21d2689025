// The small part of dcmjs this package uses (the dictionary, reading, and writing the archive's own objects); dcmjs ships no types.
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    vm: string;
    name: string;
  }
  interface DicomDict {
    meta: Record<string, unknown>;
    dict: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomDict: new (meta: Record<string, unknown>) => DicomDict;
      DicomMetaDictionary: {
        denaturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
        dictionary: Record<string, DictionaryEntry | undefined>;
        nameMap: Record<string, DictionaryEntry | undefined>;
        naturalizeDataset(dataset: Record<string, unknown>): Record<string, unknown>;
      };
      /** 1-bit pixels (BINARY segmentations): one bit per pixel, frames contiguous, LSB first. */
      BitArray: {
        pack(pixels: ArrayLike<number>): Uint8Array;
        unpack(bits: ArrayBuffer | Uint8Array): Uint8Array;
      };
      Colors: {
        rgb82DICOMLAB(rgb: readonly number[]): number[];
      };
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDict;
      };
    };
  };
  export default dcmjs;
}
