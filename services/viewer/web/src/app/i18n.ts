/**
 * The web app's two languages. Readers in the centres read Simplified Chinese; the English stays for the
 * engineers, auditors and visiting radiologists who read it. Each text is written where it is used, both
 * languages side by side (`t('Reading queue', '阅片队列')`), so a reviewer sees the pair and no catalogue can
 * drift from the code. Medical terms follow the Chinese thyroid ultrasound reports the printed report uses
 * (`viewer/tirads-zh.ts`); what a radiologist signs is stored as codes, never as either language's words.
 */
export type Language = 'en' | 'zh';

const STORAGE_KEY = 'yunying.language';

/** The saved choice first, then the browser's preferred languages in order; English when none is Chinese. */
export function chooseLanguage(saved: string | null, preferred: readonly string[]): Language {
  if (saved === 'en' || saved === 'zh') return saved;
  for (const tag of preferred) {
    const primary = tag.toLowerCase().split('-')[0];
    if (primary === 'zh') return 'zh';
    if (primary === 'en') return 'en';
  }
  return 'en';
}

function savedChoice(): string | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage blocked by the browser's privacy settings: the browser's languages decide
  }
}

function browserLanguages(): readonly string[] {
  if (typeof navigator === 'undefined') return [];
  return navigator.languages.length > 0 ? navigator.languages : [navigator.language];
}

let current: Language = chooseLanguage(savedChoice(), browserLanguages());

export function language(): Language {
  return current;
}

/** The document's language tag, so that screen readers and the font stack pick the right voice and face. */
export function languageTag(lang: Language = current): string {
  return lang === 'zh' ? 'zh-Hans' : 'en';
}

/** Remembered in this browser (a shared reading-room workstation keeps its language across readers). */
export function setLanguage(lang: Language): void {
  current = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // not remembered: this page view still switches
  }
  if (typeof document !== 'undefined') document.documentElement.lang = languageTag(lang);
}

/** The Accept-Language the app's own requests send, so that the server's messages come in the reader's language. */
export function acceptLanguage(lang: Language = current): string {
  return lang === 'zh' ? 'zh-CN,zh;q=0.9,en;q=0.5' : 'en';
}

/**
 * The locale dates and times are written in: Chinese order and words for a reader who chose Chinese (also in an
 * English browser); otherwise the browser's own (an English reader's dates as their system writes them).
 */
export function dateLocale(lang: Language = current): string | undefined {
  return lang === 'zh' ? 'zh-CN' : undefined;
}

/** The text in the reader's language. */
export function t(en: string, zh: string): string {
  return current === 'zh' ? zh : en;
}

/** "3 studies" / "3 项检查": English picks singular or plural; Chinese has one form. */
export function tCount(n: number, en: readonly [singular: string, plural: string], zh: string): string {
  return current === 'zh' ? `${n} ${zh}` : `${n} ${n === 1 ? en[0] : en[1]}`;
}
