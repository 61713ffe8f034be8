// Two languages, English and Simplified Chinese. Every string the console shows comes from
// these tables: `zh` is typed as a complete copy of `en`'s keys, so a string missing from
// either fails the type check (npm run build) instead of showing up untranslated.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { en } from './i18n/en';
import { zh } from './i18n/zh';

export type MsgKey = keyof typeof en;
export type Lang = 'en' | 'zh-CN';
export const LANGS: { id: Lang; label: string }[] = [
  { id: 'en', label: 'English' },
  { id: 'zh-CN', label: '简体中文' },
];

const tables: Record<Lang, Record<MsgKey, string>> = { en, 'zh-CN': zh };

export type Translate = (key: MsgKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  const table = tables[lang] ?? en;
  return (key, vars) => {
    let text = table[key] ?? en[key] ?? key;
    if (vars) {
      for (const [k, v] of Object.entries(vars)) text = text.split(`{${k}}`).join(String(v));
    }
    return text;
  };
}

const kStorage = 'llmp.console.lang';

export function initialLang(): Lang {
  const saved = localStorage.getItem(kStorage);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return navigator.language?.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function saveLang(lang: Lang) {
  localStorage.setItem(kStorage, lang);
  document.documentElement.lang = lang;
}

export interface LangContextValue {
  lang: Lang;
  t: Translate;
  setLang: (l: Lang) => void;
}

export const LangContext = createContext<LangContextValue>({ lang: 'en', t: translator('en'), setLang: () => {} });

export function useT(): Translate {
  return useContext(LangContext).t;
}

export function useLang(): LangContextValue {
  return useContext(LangContext);
}
