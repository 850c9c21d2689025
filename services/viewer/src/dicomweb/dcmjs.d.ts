// The part of dcmjs (which ships no types) the DICOMweb routes use: the PS3.6 keyword dictionary.
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
    name: string;
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        dictionary: Record<string, DictionaryEntry | undefined>;
        nameMap: Record<string, DictionaryEntry | undefined>;
      };
    };
  };
  export default dcmjs;
}
