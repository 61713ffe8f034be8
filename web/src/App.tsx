import type { ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { setApiKey, setUnauthorizedHandler } from './api';
import { LangContext, initialLang, saveLang, translator, useLang, type Lang, type MsgKey } from './i18n';
import { LanguageSwitch } from './components/LanguageSwitch';
import { href, useRoute } from './router';
import { SessionContext, isPlatform, loadSession, saveSession, useSession, type Session } from './session';
import { SignIn } from './pages/SignIn';
import { Overview } from './pages/Overview';
import { Playground } from './pages/Playground';
import { Calls } from './pages/Calls';
import { Tenants } from './pages/Tenants';
import { Models } from './pages/Models';
import { Usage } from './pages/Usage';
import { Alerts } from './pages/Alerts';
import { Empty } from './components/ui';

interface NavItem {
  page: string;
  label: MsgKey;
  platformOnly?: boolean;
}

const kNav: NavItem[] = [
  { page: 'overview', label: 'nav.overview' },
  { page: 'playground', label: 'nav.playground' },
  { page: 'calls', label: 'nav.calls' },
  { page: 'tenants', label: 'nav.tenants' },
  { page: 'models', label: 'nav.models', platformOnly: true },
  { page: 'usage', label: 'nav.usage' },
  { page: 'alerts', label: 'nav.alerts' },
];

export function App() {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [session, setSession] = useState<Session | null>(() => {
    const s = loadSession();
    if (s) setApiKey(s.key);
    return s;
  });
  const langValue = useMemo(
    () => ({
      lang,
      t: translator(lang),
      setLang: (l: Lang) => {
        saveLang(l);
        setLangState(l);
      },
    }),
    [lang],
  );
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = langValue.t('app.title');
  }, [lang]);

  const signOut = () => {
    // The next key may be another tenant's: it starts on the overview, not on this key's pages.
    history.replaceState(null, '', location.pathname);
    saveSession(null);
    setApiKey('');
    setSession(null);
  };
  useEffect(() => {
    setUnauthorizedHandler(session ? signOut : null);
    return () => setUnauthorizedHandler(null);
  }, [session]);

  return (
    <LangContext.Provider value={langValue}>
      {session ? (
        <SessionContext.Provider value={{ session, signOut }}>
          <Shell />
        </SessionContext.Provider>
      ) : (
        <SignIn
          onSignedIn={(s) => {
            saveSession(s);
            setApiKey(s.key);
            setSession(s);
          }}
        />
      )}
    </LangContext.Provider>
  );
}

function Shell() {
  const route = useRoute();
  const { t } = useLang();
  const { session } = useSession();
  const platform = isPlatform(session);
  const nav = kNav.filter((n) => platform || !n.platformOnly);
  const known = nav.some((n) => n.page === route.page);
  let page: ComponentChildren;
  switch (known ? route.page : '') {
    case 'overview': page = <Overview />; break;
    case 'playground': page = <Playground />; break;
    case 'calls': page = <Calls route={route} />; break;
    case 'tenants': page = <Tenants route={route} />; break;
    case 'models': page = <Models />; break;
    case 'usage': page = <Usage />; break;
    case 'alerts': page = <Alerts />; break;
    default:
      page = (
        <Empty title={t('nav.not_found')} hint={t('nav.not_found_hint')}>
          <a href={href('overview')}>{t('nav.overview')}</a>
        </Empty>
      );
  }
  return (
    <div class="shell">
      <aside class="sidebar">
        <div class="sidebar-inner">
        <div class="brand">llmplatform</div>
        <nav aria-label={t('nav.label')}>
          <ul>
            {nav.map((n) => (
              <li key={n.page}>
                <a href={href(n.page)} class={route.page === n.page ? 'active' : ''} aria-current={route.page === n.page ? 'page' : undefined}
                   data-testid={`nav-${n.page}`}>
                  {t(n.label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        </div>
      </aside>
      <div class="main">
        <TopBar />
        <main class="content">{page}</main>
      </div>
    </div>
  );
}

function TopBar() {
  const { t } = useLang();
  const { session, signOut } = useSession();
  const who = session.identity;
  return (
    <div class="topbar">
      <div class="whoami" data-testid="whoami">
        {who.role === 'platform_admin' ? t('role.platform_admin') : t('role.tenant_admin')}
        {who.tenant_id && (
          <span class="muted">
            {' · '}
            {t('common.tenant')} <code>{who.tenant_id}</code>
          </span>
        )}
      </div>
      <div class="row">
        <LanguageSwitch />
        <button type="button" class="btn" onClick={signOut} data-testid="sign-out">
          {t('signin.sign_out')}
        </button>
      </div>
    </div>
  );
}
