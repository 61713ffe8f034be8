import { LANGS, useLang, type Lang } from '../i18n';

export function LanguageSwitch() {
  const { lang, setLang, t } = useLang();
  return (
    <label class="lang-switch">
      <span class="sr-only">{t('common.language')}</span>
      <select value={lang} onChange={(e) => setLang((e.target as HTMLSelectElement).value as Lang)} data-testid="language">
        {LANGS.map((l) => (
          <option value={l.id} key={l.id}>
            {l.label}
          </option>
        ))}
      </select>
    </label>
  );
}
