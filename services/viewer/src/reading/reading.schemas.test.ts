import { parseInput } from '@yunying/auth';
import { queueQuery, reportContent } from './reading.schemas';

describe('queue query', () => {
  it('applies defaults', () => {
    expect(parseInput(queueQuery, {})).toEqual({ limit: 50 });
  });

  it('accepts comma-separated and repeated statuses, dates in DA or ISO form, and normalizes the modality', () => {
    const q = parseInput(queueQuery, { status: ['new,triaged', 'new'], from: '2024-01-31', to: '20240201', modality: 'us', limit: '10' });
    expect(q).toEqual({ status: ['new', 'triaged'], from: '20240131', to: '20240201', modality: 'US', limit: 10 });
  });

  it.each([
    [{ status: 'done' }, 'status.0'],
    [{ status: '' }, 'status'],
    [{ limit: '0' }, 'limit'],
    [{ limit: '201' }, 'limit'],
    [{ from: '2024-02-30' }, 'from'],
    [{ from: '20240201', to: '20240101' }, 'from'],
    [{ modality: "US' OR 1=1" }, 'modality'],
  ])('refuses %j, naming %s', (input, field) => {
    expect(() => parseInput(queueQuery, input, 'query')).toThrow(expect.objectContaining({ code: 'bad_request', details: { fields: [field] } }));
  });
});

describe('report content', () => {
  it('leaves everything the reader did not state empty: nothing is filled in from elsewhere', () => {
    expect(parseInput(reportContent, { impression: 'Benign-appearing nodule.' })).toEqual({
      tiradsCategory: null,
      findings: '',
      impression: 'Benign-appearing nodule.',
      aiResultRef: null,
      aiSuggestionAccepted: null,
      nodules: [],
    });
  });

  it('keeps an explicit choice about the AI suggestion together with the result it refers to', () => {
    const ref = '0b7a1c64-5e41-4f0e-9d7e-3f1c2b9a8d11';
    expect(parseInput(reportContent, { tiradsCategory: 'TR4', aiResultRef: ref.toUpperCase(), aiSuggestionAccepted: false })).toMatchObject({
      tiradsCategory: 'TR4',
      aiResultRef: ref,
      aiSuggestionAccepted: false,
    });
  });

  it.each([
    [{ tiradsCategory: 'TR6' }, 'tiradsCategory'],
    [{ aiSuggestionAccepted: true }, 'aiSuggestionAccepted'],
    [{ aiResultRef: 'not-a-uuid' }, 'aiResultRef'],
    [{ status: 'signed' }, 'request body'],
  ])('refuses %j', (input, field) => {
    expect(() => parseInput(reportContent, input)).toThrow(expect.objectContaining({ code: 'bad_request', details: { fields: [field] } }));
  });
});
