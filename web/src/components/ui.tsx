import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useT } from '../i18n';

export function Loading({ label }: { label?: string }) {
  const t = useT();
  return (
    <div class="state state-loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      {label ?? t('common.loading')}
    </div>
  );
}

//! An API failure in words a user can act on: the server's own message, and what the status means.
export function ErrorBox({ error, onRetry }: { error: Error; onRetry?: () => void }) {
  const t = useT();
  let hint = '';
  if (error instanceof ApiError) {
    if (error.status === 0) hint = t('error.network');
    else if (error.status === 401) hint = t('error.401');
    else if (error.status === 403) hint = t('error.403');
    else if (error.status === 404) hint = t('error.404');
    else if (error.status === 429) hint = t('error.429');
    else if (error.status >= 500) hint = t('error.5xx');
  }
  return (
    <div class="state state-error" role="alert">
      <strong>{t('error.title')}</strong>
      <span class="error-message">
        {error instanceof ApiError && error.status ? `HTTP ${error.status}: ` : ''}
        {error.message}
      </span>
      {hint && <span class="muted">{hint}</span>}
      {onRetry && (
        <button type="button" class="btn" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

export function InlineError({ error }: { error: Error | undefined }) {
  if (!error) return null;
  return (
    <p class="inline-error" role="alert">
      {error instanceof ApiError && error.status ? `HTTP ${error.status}: ` : ''}
      {error.message}
    </p>
  );
}

export function Empty({ title, hint, children }: { title: string; hint?: string; children?: ComponentChildren }) {
  return (
    <div class="state state-empty">
      <strong>{title}</strong>
      {hint && <span class="muted">{hint}</span>}
      {children}
    </div>
  );
}

//! Loading, error and data in one place: the three states every page shows.
export function Async<T>({
  state,
  children,
}: {
  state: { data: T | undefined; error: Error | undefined; loading: boolean; reload: () => void };
  children: (data: T) => ComponentChildren;
}) {
  if (state.data !== undefined) {
    return (
      <>
        {state.error && <ErrorBox error={state.error} onRetry={state.reload} />}
        {children(state.data)}
      </>
    );
  }
  if (state.error) return <ErrorBox error={state.error} onRetry={state.reload} />;
  return <Loading />;
}

export function CopyButton({ text, label }: { text: string; label?: string }) {
  const t = useT();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Clipboard API refused (no secure context): select the text for a manual copy instead.
      const area = document.createElement('textarea');
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand('copy');
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1500);
  };
  return (
    <button type="button" class="btn btn-small" onClick={copy} data-testid="copy">
      {copied ? t('common.copied') : label ?? t('common.copy')}
    </button>
  );
}

//! A modal confirmation for destructive actions: a real <dialog>, so focus stays inside and
//! Escape cancels.
export function Confirm({
  open,
  title,
  body,
  confirmLabel,
  danger,
  busy,
  error,
  onConfirm,
  onCancel,
  children,
}: {
  open: boolean;
  title: string;
  body?: string;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: Error;
  onConfirm: () => void;
  onCancel: () => void;
  children?: ComponentChildren;
}) {
  const t = useT();
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      class="dialog"
      onCancel={(e) => {
        e.preventDefault();
        onCancel();
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          onConfirm();
        }}
      >
        <h2>{title}</h2>
        {body && <p>{body}</p>}
        {children}
        <InlineError error={error} />
        <div class="row-end">
          <button type="button" class="btn" onClick={onCancel}>
            {t('common.cancel')}
          </button>
          <button type="submit" class={danger ? 'btn btn-danger' : 'btn btn-primary'} disabled={busy} data-testid="confirm">
            {busy ? t('common.working') : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span class="field-label">{label}</span>
      {children}
      {hint && <span class="field-hint">{hint}</span>}
    </label>
  );
}

export function Badge({ tone, children }: { tone: 'ok' | 'warn' | 'bad' | 'info' | 'muted'; children: ComponentChildren }) {
  return <span class={`badge badge-${tone}`}>{children}</span>;
}

export function PageHeader({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <header class="page-header">
      <h1>{title}</h1>
      <div class="page-actions">{children}</div>
    </header>
  );
}

export function Stat({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <div class="stat" data-testid={testid}>
      <span class="stat-label">{label}</span>
      <span class="stat-value">{value}</span>
    </div>
  );
}
