// The part of dcmjs (which ships no types) the viewer uses: the PS3.6 keyword dictionary (DICOMweb routes)
// and the reader its tests use on report SRs (written by @yunying/dicom's part10Bytes).
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    name: string;
  }
  type Naturalized = Record<string, unknown>;
  const dcmjs: {
    data: {
      DicomMessage: { readFile(buffer: ArrayBuffer): { meta: Naturalized; dict: Naturalized } };
      DicomMetaDictionary: {
        dictionary: Record<string, DictionaryEntry | undefined>;
        nameMap: Record<string, DictionaryEntry | undefined>;
        naturalizeDataset(dataset: Naturalized): Naturalized;
      };
    };
  };
  export default dcmjs;
}
