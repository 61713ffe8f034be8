import { useState } from 'preact/hooks';
import { api, ApiError, type Identity } from '../api';
import { useT } from '../i18n';
import type { Session } from '../session';
import { LanguageSwitch } from '../components/LanguageSwitch';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const t = useT();
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');

  const submit = async (e: Event) => {
    e.preventDefault();
    const trimmed = key.trim();
    if (!trimmed) {
      setError(t('signin.empty'));
      return;
    }
    setBusy(true);
    setError('');
    try {
      const identity = await api<Identity>('/admin/v1/me', { key: trimmed });
      onSignedIn({ key: trimmed, identity });
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError(t('signin.bad_key', { message: err.message }));
      else if (err instanceof ApiError && err.status === 403) setError(t('signin.not_admin'));
      else setError(t('signin.failed', { message: (err as Error).message }));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="signin">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <div class="row-between">
          <h1 id="signin-title">{t('signin.title')}</h1>
          <LanguageSwitch />
        </div>
        <p class="muted">{t('signin.intro')}</p>
        <label class="field">
          <span class="field-label">{t('signin.key')}</span>
          <input
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={key}
            onInput={(e) => setKey((e.target as HTMLInputElement).value)}
            placeholder="sk-llmp-… / llmp-admin-…"
            autoFocus
            data-testid="api-key"
          />
          <span class="field-hint">{t('signin.key_hint')}</span>
        </label>
        {error && (
          <p class="inline-error" role="alert" data-testid="signin-error">
            {error}
          </p>
        )}
        <button type="submit" class="btn btn-primary" disabled={busy} data-testid="sign-in">
          {busy ? t('signin.checking') : t('signin.submit')}
        </button>
      </form>
    </div>
  );
}
