import { parseCsv, parseLabels } from './labels';

describe('labels.csv', () => {
  it('parses quoted fields', () => {
    expect(parseCsv('a,b\r\n"x, ""y""",2\n')).toEqual([
      ['a', 'b'],
      ['x, "y"', '2'],
    ]);
  });

  it('keeps labelled rows and counts the unlabelled', () => {
    const text =
      'image,mask,ddti_case,tirads,tirads_binary_4plus,note\n' +
      'cropped/1_1.png,mask/1_1.gif,1,,,\n' +
      'cropped/2_1.png,mask/2_1.gif,2,2,0,\n' +
      'cropped/3_1.png,mask/3_1.gif,3,4a,1,"a note, with a comma"\n';
    expect(parseLabels(text)).toEqual({
      rows: [
        { image: 'cropped/2_1.png', caseId: '2', label: 0 },
        { image: 'cropped/3_1.png', caseId: '3', label: 1 },
      ],
      unlabelled: 1,
    });
  });

  it('rejects labels other than 0/1', () => {
    expect(() => parseLabels('image,ddti_case,tirads_binary_4plus\na.png,1,4a\n')).toThrow(/0, 1 or empty/);
  });
});
