import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { AppError, createLogger } from '@yunying/core';
import { errorHandler } from './problem';
import { PASSWORD_REASON_ZH, PROBLEM_ZH, localizedDetail, prefersChinese } from './problem-zh';

const REPO = path.resolve(__dirname, '../../..');

/** Every non-test TypeScript source of the packages and services (not the web app, not dist). */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name === 'web') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && entry.name !== 'problem-zh.ts') out.push(full);
    }
  };
  for (const top of ['packages', 'services']) walk(path.join(REPO, top));
  return out;
}

describe('prefersChinese', () => {
  it('follows the language of highest preference', () => {
    expect(prefersChinese('zh-CN,zh;q=0.9,en;q=0.8')).toBe(true);
    expect(prefersChinese('zh-Hans')).toBe(true);
    expect(prefersChinese('en-US,en;q=0.9,zh-CN;q=0.8')).toBe(false);
    expect(prefersChinese('en;q=0.5, zh-TW;q=0.7')).toBe(true);
    expect(prefersChinese('*')).toBe(false);
    expect(prefersChinese('')).toBe(false);
    expect(prefersChinese(undefined)).toBe(false);
    expect(prefersChinese('zh;q=0, en')).toBe(false);
  });
});

describe('PROBLEM_ZH', () => {
  it('translates only messages the code still writes (a changed English text would silently fall back)', () => {
    const code = sources().map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    const missing = [...PROBLEM_ZH.keys()].filter((en) => !code.includes(`'${en}'`));
    expect(missing).toEqual([]);
  });

  it('has a Chinese text for every reason the password policy gives (the reasons are in its code)', () => {
    const policy = sources().filter((f) => f.endsWith(path.join('auth', 'src', 'password-policy.ts')) || f.endsWith(path.join('services', 'users.service.ts')));
    const code = policy.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
    expect([...PASSWORD_REASON_ZH.keys()].filter((en) => !code.includes(`'${en}'`) && !code.includes(`: ${en}'`))).toEqual([]);
    expect(localizedDetail('Password refused: at least 12 characters', 'zh-CN')).toBe('密码被拒绝：至少 12 个字符');
    expect(localizedDetail('Password refused: contains the user name', 'zh-CN')).toBe('密码被拒绝：包含用户名');
    expect(localizedDetail('Password refused: the same as the current one', 'zh-CN')).toBe('密码被拒绝：与当前密码相同');
    expect(localizedDetail('Password refused: some new rule', 'zh-CN')).toBe('Password refused: some new rule');
  });

  it('leaves English requests and unknown messages in English', () => {
    expect(localizedDetail('Invalid username or password', 'en-US')).toBe('Invalid username or password');
    expect(localizedDetail('Invalid username or password', 'zh-CN')).toBe('用户名或密码错误');
    expect(localizedDetail('Something nobody translated', 'zh-CN')).toBe('Something nobody translated');
  });
});

describe('problem responses by Accept-Language', () => {
  const app = express();
  app.get('/fail', (_req, _res, next) => next(new AppError('unauthenticated', 'Invalid username or password')));
  app.use(errorHandler(createLogger({ level: 'silent', service: 'test' })));

  it('sends the detail in Chinese to a Chinese client, with Vary, and the same code and status to both', async () => {
    const zh = await request(app).get('/fail').set('Accept-Language', 'zh-CN,zh;q=0.9');
    expect([zh.status, zh.body.code, zh.body.detail, zh.headers.vary]).toEqual([401, 'unauthenticated', '用户名或密码错误', 'Accept-Language']);
    const en = await request(app).get('/fail');
    expect([en.status, en.body.code, en.body.detail, en.headers.vary]).toEqual([401, 'unauthenticated', 'Invalid username or password', undefined]);
  });
});
