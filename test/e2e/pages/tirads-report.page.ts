import type { Locator, Page } from 'playwright-core';

// The test project has no DOM lib: what runs in the browser is typed structurally.
interface ActionWindow {
  sessionStorage: { getItem(key: string): string | null; setItem(key: string, value: string): void };
  addEventListener(type: string, listener: (event: { isTrusted: boolean; type: string }) => void, capture: boolean): void;
}

const ACTIONS_KEY = 'yy-e2e-actions';

export interface FieldView {
  field: string;
  source: string;
  confirmed: string;
  mark: string;
  /** The mark's computed background colour, as drawn. */
  markColour: string;
  /** Whether the mark has a box on screen. */
  markShown: boolean;
  /** Whether the field's own Confirm button is drawn. */
  confirmShown: boolean;
  /** The select's value (single items), the checked foci codes, or the long axis. */
  value: string;
}

/**
 * The structured TI-RADS part of the report form (#20), and the reader's actions counted as the issue
 * counts them: every trusted click and key press in the page (the browser's own input events, which is
 * what Playwright's click() and keyboard produce; programmatic changes are not counted). The count lives
 * in sessionStorage so a full navigation does not reset it.
 */
export class TiradsReportPage {
  constructor(private readonly page: Page) {}

  /** Call once per page, before navigating. */
  static async installActionCounter(page: Page): Promise<void> {
    await page.addInitScript((key) => {
      const w = globalThis as unknown as ActionWindow;
      const count = (event: { isTrusted: boolean }): void => {
        if (event.isTrusted) w.sessionStorage.setItem(key, String(Number(w.sessionStorage.getItem(key) ?? '0') + 1));
      };
      w.addEventListener('click', count, true);
      w.addEventListener('keydown', count, true);
    }, ACTIONS_KEY);
  }

  async resetActions(): Promise<void> {
    await this.page.evaluate((key) => (globalThis as unknown as ActionWindow).sessionStorage.setItem(key, '0'), ACTIONS_KEY);
  }

  async actions(): Promise<number> {
    return this.page.evaluate((key) => Number((globalThis as unknown as ActionWindow).sessionStorage.getItem(key) ?? '0'), ACTIONS_KEY);
  }

  get blocks(): Locator {
    return this.page.getByTestId('nodule-block');
  }

  /** Until the AI's nodules are in the form (after the study is claimed). */
  async waitForPrefill(): Promise<number> {
    await this.blocks.first().waitFor();
    return this.blocks.count();
  }

  /** Each field of nodule `n` (0-based) as drawn: its marks, where it came from, its value. */
  async fields(n: number): Promise<FieldView[]> {
    const rows = this.blocks.nth(n).locator('[data-field]');
    const out: FieldView[] = [];
    for (let i = 0; i < (await rows.count()); i += 1) {
      const row = rows.nth(i);
      const mark = row.getByTestId('field-mark');
      const box = await mark.boundingBox();
      out.push({
        field: (await row.getAttribute('data-field')) ?? '',
        source: (await row.getAttribute('data-source')) ?? '',
        confirmed: (await row.getAttribute('data-confirmed')) ?? '',
        mark: (await mark.textContent()) ?? '',
        markColour: await mark.evaluate((el: unknown) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor),
        markShown: box !== null && box.width > 0 && box.height > 0,
        confirmShown: await row.getByTestId('confirm-field').isVisible(),
        value: await row.evaluate((el: unknown) => {
          const root = el as { querySelector(s: string): { value: string } | null; querySelectorAll(s: string): ArrayLike<{ value: string }> };
          const select = root.querySelector('select');
          if (select) return select.value;
          const checked = Array.from(root.querySelectorAll('input[type=checkbox]:checked')).map((c) => c.value);
          if (checked.length > 0) return checked.join(',');
          return root.querySelector('input[type=number]')?.value ?? '';
        }),
      });
    }
    return out;
  }

  async score(n: number): Promise<string> {
    return (await this.blocks.nth(n).getByTestId('nodule-score').textContent()) ?? '';
  }

  async pending(): Promise<string> {
    return (await this.page.getByTestId('unconfirmed-count').textContent()) ?? '';
  }

  async acceptAi(): Promise<void> {
    await this.page.getByTestId('accept-ai').click();
    await this.page.getByTestId('unconfirmed-count').filter({ hasText: 'Every field confirmed.' }).waitFor();
  }

  /** Confirms one field of nodule `n` with its own Confirm button. */
  async confirmField(n: number, field: string): Promise<void> {
    const row = this.blocks.nth(n).locator(`[data-field="${field}"]`);
    await row.getByTestId('confirm-field').click();
    await this.page.locator(`[data-testid="nodule-block"] >> nth=${n} >> [data-field="${field}"][data-confirmed="true"]`).waitFor();
  }

  /** Removes every nodule block, then adds one empty block and fills it in as the reader (selects, a focus, the size). */
  async replaceWithOwnNodule(codes: Record<'composition' | 'echogenicity' | 'shape' | 'margin', string>, focus: string, longMm: number): Promise<void> {
    while ((await this.blocks.count()) > 0) await this.blocks.first().getByTestId('remove-nodule').click();
    await this.page.getByTestId('add-nodule').click();
    const block = this.blocks.first();
    for (const [item, code] of Object.entries(codes)) await block.locator(`select[data-item="${item}"]`).selectOption(code);
    await block.locator(`input[type=checkbox][value="${focus}"]`).check();
    await block.getByLabel('Long axis (mm)').fill(String(longMm));
    await block.getByLabel('Long axis (mm)').press('Tab');
  }

  /** Signs an addendum with the block(s) filled in and an impression; returns each signed version's nodule levels. */
  async signAddendum(impression: string, password: string): Promise<string[][]> {
    await this.page.getByLabel('Addendum impression').fill(impression);
    await this.page.getByTestId('addendum-password').fill(password);
    await this.page.getByTestId('sign-addendum').click();
    await this.page.locator('[data-testid="signed-report"][data-version="2"]').waitFor();
    const versions = this.page.getByTestId('signed-report');
    const out: string[][] = [];
    for (let i = 0; i < (await versions.count()); i += 1) {
      out.push(await versions.nth(i).getByTestId('signed-nodule').evaluateAll((els: unknown[]) => els.map((e) => (e as { getAttribute(n: string): string | null }).getAttribute('data-level') ?? '')));
    }
    return out;
  }

  /** The signature line of a signed version once the server's check has answered (#20). */
  async signature(version: number): Promise<string> {
    const line = this.page.locator(`[data-testid="signed-report"][data-version="${version}"] [data-testid="signature"]`).filter({ hasText: /^(Signature (verified|check failed|not checked)|No digital signature)/ });
    await line.waitFor();
    return (await line.textContent()) ?? '';
  }

  async saveDraft(): Promise<void> {
    await this.page.getByTestId('save-draft').click();
    await this.page.getByRole('status').filter({ hasText: 'Draft saved' }).first().waitFor();
  }

  /** Clicks Sign and returns the status line's error (signing refused), waiting until it says something. */
  async signRefused(): Promise<string> {
    await this.page.getByTestId('sign-report').click();
    const line = this.page.locator('.report-form [role="status"][data-kind="error"]');
    await line.waitFor();
    return (await line.textContent()) ?? '';
  }

  /**
   * Signs, re-authenticating with the password (#20); returns the signed version's text and its nodules'
   * levels as drawn. The password counts as one action: a click into the field, then filled as a password
   * manager fills it (input events, no key presses). Typed by hand it would be one key press per character.
   */
  async sign(password: string): Promise<{ text: string; levels: string[] }> {
    await this.page.getByTestId('sign-password').click();
    await this.page.getByTestId('sign-password').fill(password);
    await this.page.getByTestId('sign-report').click();
    const signed = this.page.locator('[data-testid="signed-report"][data-version="1"]');
    await signed.waitFor();
    const levels = await signed.getByTestId('signed-nodule').evaluateAll((els: unknown[]) => els.map((e) => (e as { getAttribute(n: string): string | null }).getAttribute('data-level') ?? ''));
    return { text: (await signed.textContent()) ?? '', levels };
  }
}
