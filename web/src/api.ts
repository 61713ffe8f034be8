// Every request the console makes goes through here: the same public /admin/v1 and /v1 APIs
// that users script against, with the signed-in key as the bearer token.

export class ApiError extends Error {
  constructor(
    public status: number,
    message: string,
    public code: string | null = null,
    public param: string | null = null,
  ) {
    super(message);
  }
}

let currentKey = '';
let onUnauthorized: (() => void) | null = null;

export function setApiKey(key: string) {
  currentKey = key;
}

//! Called when a request answers 401 with the signed-in key (revoked or expired meanwhile).
export function setUnauthorizedHandler(fn: (() => void) | null) {
  onUnauthorized = fn;
}

export function authHeaders(key = currentKey): Record<string, string> {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorFrom(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text);
    if (body && body.error) {
      return new ApiError(res.status, body.error.message ?? `HTTP ${res.status}`, body.error.code ?? null, body.error.param ?? null);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiError(res.status, text.trim() || `HTTP ${res.status} ${res.statusText}`);
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  key?: string;
  signal?: AbortSignal;
  accept?: string;
}

async function send(path: string, opts: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...authHeaders(opts.key ?? currentKey) };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.accept) headers['Accept'] = opts.accept;
  let res: Response;
  try {
    res = await fetch(path, {
      method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      signal: opts.signal,
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, (e as Error).message || 'network error');
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && opts.key === undefined && onUnauthorized) onUnauthorized();
    throw err;
  }
  return res;
}

export async function api<T = any>(path: string, opts: RequestOptions = {}): Promise<T> {
  const res = await send(path, opts);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export async function apiText(path: string, opts: RequestOptions = {}): Promise<string> {
  const res = await send(path, opts);
  return res.text();
}

export async function apiStream(path: string, opts: RequestOptions = {}): Promise<Response> {
  return send(path, { ...opts, accept: 'text/event-stream' });
}

export function qs(params: Record<string, string | number | undefined | null | false>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

// ---- shapes of the answers the console reads (README's route table) ----

export interface Identity {
  object: 'identity';
  role: 'platform_admin' | 'tenant_admin' | 'app';
  tenant_id: string | null;
  project_id: string | null;
  key_id: string;
  scopes: string[];
  models: string[];
}

export interface ListPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  resume_after?: string;
}

export interface Tenant {
  id: string;
  name: string;
  created_at: number;
}

export interface Project {
  id: string;
  tenant_id: string;
  name: string;
  created_at: number;
}

export interface ApiKey {
  id: string;
  value?: string;
  redacted_value: string;
  name: string;
  tenant_id: string;
  project_id: string | null;
  role: string;
  scopes: string[];
  models: string[];
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
}

export interface Limit {
  id: string;
  subject: string;
  tenant_id: string | null;
  kind: string;
  limit: number;
  period_seconds: number;
  created_at: number;
  updated_at: number;
}

export interface CallRecord {
  id: string;
  created_at: number;
  started_at_ms: number;
  request_id: string;
  trace_id: string;
  span_id: string;
  tenant_id: string;
  project_id: string;
  key_id: string;
  user: string;
  session_id: string;
  operation: string;
  model: string;
  served_by: string;
  model_version: string;
  stream: boolean;
  params: Record<string, unknown>;
  input: unknown;
  output: string | null;
  tool_calls: unknown;
  finish_reason: string | null;
  status: number;
  error: unknown;
  usage: { prompt_tokens: number; completion_tokens: number; cached_tokens: number; total_tokens: number } | null;
  ttft_ms: number | null;
  latency_ms: number;
  cost: number;
  capture: string;
  scores?: Score[];
}

export interface Score {
  id: string;
  name: string;
  value: number | string | boolean;
  data_type: string;
  comment: string;
  source: string;
  author: string;
  created_at: number;
}

export interface OtlpValue {
  stringValue?: string;
  intValue?: string;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values: OtlpValue[] };
}

export interface Span {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: OtlpValue }[];
  status: { code: number; message?: string };
  serviceName?: string;
}

export interface UsageRow {
  tenant?: string;
  tenant_id?: string;
  project_id?: string;
  key_id?: string;
  model?: string;
  hour?: number;
  calls: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  latency_ms_sum: number;
  gpu_seconds: number;
  cost: number;
}

export interface UsageAnswer {
  object: 'usage';
  from: number;
  to: number;
  group_by: string[];
  data: UsageRow[];
  totals: UsageRow;
}

export interface AlertWindow {
  window: string;
  error_ratio?: number;
  burn_rate: number;
  good?: number;
  total?: number;
}

export interface Alert {
  id: string;
  kind: string;
  name: string;
  rule?: string;
  severity: string;
  tenant_id: string;
  state: 'inactive' | 'pending' | 'firing' | 'resolved' | string;
  since: number;
  since_ms: number;
  active_since: number;
  value: number;
  threshold: number;
  windows?: AlertWindow[];
  summary: string;
  summary_zh: string;
}

//! One row of GET /admin/v1/alerts/history: an alert fired or resolved.
export interface AlertTransition {
  id: number;
  alert_id: string;
  event: 'fired' | 'resolved' | string;
  kind: string;
  name: string;
  rule?: string;
  severity: string;
  tenant_id: string;
  value: number;
  threshold: number;
  at: number;
  at_ms: number;
  summary: string;
  summary_zh: string;
}

export interface Slo {
  name: string;
  kind: string;
  objective: number;
  model: string;
  tenant_id: string;
  operation: string;
  spec: string;
  windows: AlertWindow[];
  error_budget_remaining: number;
}

export interface ModelVersion {
  id: string;
  manifest: {
    org: string;
    model: string;
    version: string;
    created_at_ms: number;
    format: string;
    architecture: string;
    dtype: string;
    source: string;
    files: { path: string; size: number; sha256: string }[];
    spec: {
      parameters: number;
      precision: string;
      context_length: number;
      device: { kind: string; [k: string]: unknown };
      memory_bytes: number;
      expected_tokens_per_second: number;
    };
    signed_by: string;
  };
  loaded_as: LoadedModel[];
}

export interface LoadedModel {
  id: string;
  version: string;
  state: string;
  error?: string;
  memory_bytes: number;
  changed_at_ms: number;
}

export interface LoadedModels {
  memory_budget_bytes: number;
  memory_in_use_bytes: number;
  data: LoadedModel[];
}

export interface ReleaseHistoryEntry {
  action: string;
  stable: string | null;
  canary: string | null;
  canary_weight: number;
  reason: string;
  actor: string;
  at_ms: number;
}

export interface Release {
  alias: string;
  stable: string | null;
  canary: string | null;
  canary_weight: number;
  auto_rollback: boolean;
  max_error_rate_increase: number;
  max_latency_ratio: number;
  min_requests: number;
  history?: ReleaseHistoryEntry[];
  created_at_ms: number;
  updated_at_ms: number;
}

export interface ServedModel {
  id: string;
  owned_by?: string;
  max_model_len?: number;
  llmplatform?: { kind?: string; status?: string; version?: string; architecture?: string; format?: string };
}

//! GET /admin/v1/tenants/{id}/budget-alert: a tenant's monthly spend threshold (null: none set).
export interface BudgetAlert {
  object: 'budget_alert';
  tenant_id: string;
  monthly_spend: number | null;
  created_at?: number;
  updated_at?: number;
}

//! GET /admin/v1/tenants/{id}/models: the models a tenant is granted; null: every model.
export interface TenantModels {
  object: 'tenant.models';
  tenant_id: string;
  models: string[] | null;
}
