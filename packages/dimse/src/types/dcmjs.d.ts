// The small part of dcmjs this package uses (the data dictionary); dcmjs ships no types.
declare module 'dcmjs' {
  interface DictionaryEntry {
    tag: string;
    vr: string;
  }
  const dcmjs: {
    data: {
      DicomMetaDictionary: {
        nameMap: Record<string, DictionaryEntry | undefined>;
      };
    };
  };
  export default dcmjs;
}
