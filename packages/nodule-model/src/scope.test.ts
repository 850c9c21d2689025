import { decideScope, scopeAttributes } from './scope';

const attrs = (over: Partial<Record<'bodyPartExamined' | 'anatomicRegion' | 'descriptions' | 'procodes', string>>) => ({
  bodyPartExamined: over.bodyPartExamined ?? '',
  anatomicRegion: over.anatomicRegion ?? '',
  descriptions: over.descriptions ?? '',
  procedureCodes: over.procodes ?? '',
});

describe('scope gate: attributes', () => {
  it('says unknown when nothing names a body part (the common case: the image decides)', () => {
    expect(decideScope(attrs({})).scope).toBe('unknown');
    expect(decideScope(attrs({ descriptions: 'US | Series 1' })).scope).toBe('unknown');
  });

  it('recognises thyroid studies in English, Chinese and by code', () => {
    expect(decideScope(attrs({ bodyPartExamined: 'THYROID' })).scope).toBe('thyroid');
    expect(decideScope(attrs({ descriptions: '甲状腺彩超' })).scope).toBe('thyroid');
    expect(decideScope(attrs({ descriptions: 'US NECK' })).scope).toBe('thyroid');
    expect(decideScope(attrs({ anatomicRegion: '69748006 Thyroid structure' })).scope).toBe('thyroid');
  });

  it('refuses studies that name another body part, saying which', () => {
    expect(decideScope(attrs({ bodyPartExamined: 'BREAST' }))).toEqual({ scope: 'other', evidence: 'BodyPartExamined names another body part (breast)' });
    expect(decideScope(attrs({ descriptions: '心脏超声' })).scope).toBe('other');
    expect(decideScope(attrs({ descriptions: 'Pelvic US' })).scope).toBe('other');
    expect(decideScope(attrs({ bodyPartExamined: 'ABDOMEN' })).scope).toBe('other');
  });

  it('lets anatomy outrank descriptions, and a thyroid word outrank a generic one in the same field', () => {
    expect(decideScope(attrs({ bodyPartExamined: 'THYROID', descriptions: 'Breast screening package' })).scope).toBe('thyroid');
    expect(decideScope(attrs({ descriptions: 'THYROID DOPPLER' })).scope).toBe('thyroid');
  });

  it('applies a clinic mapping before anything else', () => {
    const rules = [{ pattern: 'PROTO-7', scope: 'thyroid' as const }];
    expect(decideScope(attrs({ descriptions: 'proto-7 small parts' }), rules)).toEqual({ scope: 'thyroid', evidence: 'clinic mapping "PROTO-7"' });
    expect(decideScope(attrs({ bodyPartExamined: 'BREAST', descriptions: 'PROTO-7' }), rules).scope).toBe('thyroid');
  });

  it('reads the attributes from DICOM JSON, codes included', () => {
    const a = scopeAttributes({
      '00180015': { Value: ['NECK'] },
      '00081030': { Value: ['Health check'] },
      '00082218': { Value: [{ '00080100': { Value: ['T-B6000'] }, '00080104': { Value: ['Thyroid'] } }] },
    });
    expect(a.bodyPartExamined).toBe('NECK');
    expect(a.anatomicRegion).toContain('T-B6000');
    expect(a.descriptions).toContain('Health check');
    expect(decideScope(a).scope).toBe('thyroid');
  });
});
