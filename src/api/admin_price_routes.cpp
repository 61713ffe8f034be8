// Admin API for prices: PUT/GET /admin/v1/prices (platform admin only). A price is per model
// and effective date; every change reloads the one PriceBook admission reads.

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <mutex>

#include "admin_common.h"
#include "json_request.h"
#include "llmp/api/status_response.h"
#include "llmp/core/async.h"
#include "llmp/core/json.h"
#include "llmp/core/log.h"
#include "llmp/gateway/price_book.h"
#include "llmp/store/price_repository.h"

namespace llmp::api {
namespace {

using net::Awaitable;
using net::Request;
using net::Response;

void write_price(json::Writer& w, const store::PriceRecord& r) {
  w.begin_object()
      .field("object", "price")
      .field("model", r.model)
      .field("input_per_million", r.input_per_million)
      .field("output_per_million", r.output_per_million)
      .field("cached_input_per_million", r.cached_input_per_million)
      .field("per_gpu_hour", r.per_gpu_hour)
      .field("effective_from", r.effective_from)
      .field("created_at", r.created_at_ms / 1000)
      .field("updated_at", r.updated_at_ms / 1000)
      .end_object();
}

// A non-negative finite number at `key`; nullopt when absent.
std::expected<std::optional<double>, FieldError> amount(simdjson::dom::object obj, std::string_view key) {
  auto v = obj[key];
  if (v.error() == simdjson::NO_SUCH_FIELD) return std::optional<double>{};
  double x = -1;
  if (v.error() != simdjson::SUCCESS || !v.is_number() || v.get_double().get(x) != simdjson::SUCCESS ||
      !std::isfinite(x) || x < 0) {
    return field_error(std::string(key), fmt::format("'{}' must be a number, 0 or more", key));
  }
  return std::optional<double>(x);
}

// {"model", "input_per_million", "output_per_million", "cached_input_per_million" (default:
// the input price), "per_gpu_hour" (a local model's engine time; default 0), "effective_from"
// (unix seconds; default: now)}.
std::expected<store::PriceRecord, FieldError> parse_price(std::string_view text, int64_t now) {
  auto body = parse_object(text, {"model", "input_per_million", "output_per_million", "cached_input_per_million",
                                  "per_gpu_hour", "effective_from"});
  if (!body) return std::unexpected(body.error());
  const simdjson::dom::object obj = body->object;
  store::PriceRecord r;
  auto model = optional_string(obj, "model");
  if (!model) return std::unexpected<FieldError>(FieldError{model.error(), "model"});
  if (!*model || (*model)->empty() || (*model)->size() > 256) {
    return field_error("model", "'model' is required: the name of a model, 1-256 characters");
  }
  r.model = std::string(**model);
  for (auto [key, out] : {std::pair<std::string_view, double*>{"input_per_million", &r.input_per_million},
                          {"output_per_million", &r.output_per_million}}) {
    auto v = amount(obj, key);
    if (!v) return std::unexpected(v.error());
    if (!*v) return field_error(std::string(key), fmt::format("'{}' is required: a number, 0 or more", key));
    *out = **v;
  }
  auto cached = amount(obj, "cached_input_per_million");
  if (!cached) return std::unexpected(cached.error());
  r.cached_input_per_million = cached->value_or(r.input_per_million);
  auto gpu_hour = amount(obj, "per_gpu_hour");
  if (!gpu_hour) return std::unexpected(gpu_hour.error());
  r.per_gpu_hour = gpu_hour->value_or(0);
  auto from = optional_int(obj, "effective_from");
  if (!from) return std::unexpected<FieldError>(FieldError{from.error(), "effective_from"});
  if (*from && **from < 0) return field_error("effective_from", "'effective_from' must be unix seconds, 0 or more");
  r.effective_from = from->value_or(now);
  return r;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Reloads the price book after a change. A failure is logged: the price is stored and the next
// change or restart loads it.
Awaitable<void> reload(Services& s) {
  auto load = [&s] { return load_prices(s); };
  auto done = co_await run_blocking(s.blocking_pool->get_executor(), std::move(load));
  if (!done) log::error("cannot reload the prices", {{"error", done.error().message()}});
}

}  // namespace

Result<void> load_prices(Services& s) {
  if (!s.prices || !s.store) return ok();
  static std::mutex mu;  // two reloads racing must not leave the older list in place
  std::lock_guard lock(mu);
  auto records = s.store->prices().list(std::nullopt);
  if (!records) return error(records.error());
  std::vector<gateway::Price> prices;
  prices.reserve(records->size());
  for (const auto& r : *records) {
    prices.push_back({r.model, r.input_per_million, r.output_per_million, r.cached_input_per_million, r.effective_from,
                      r.per_gpu_hour});
  }
  s.prices->set_prices(std::move(prices));
  return ok();
}

void add_admin_price_routes(net::Router& router, Services& s) {
  router.add(net::Method::put, "/admin/v1/prices",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               auto spec = parse_price(req.body, now_seconds());
               if (!spec) co_return response_for(spec.error().status, req, spec.error().param);
               auto job = [&s, price = std::move(*spec), by = audit_actor(who, req)] {
                 return s.store->prices().put(price, &by);
               };
               auto stored = co_await run_blocking(s.blocking_pool->get_executor(), std::move(job));
               if (!stored) co_return response_for(stored.error(), req);
               co_await reload(s);
               std::string out;
               json::Writer w(out);
               write_price(w, *stored);
               co_return Response::json(200, std::move(out));
             }));

  router.add(net::Method::get, "/admin/v1/prices",
             admin_route(s, AdminAccess::platform, [&s](Request& req, const gateway::Identity& who) -> Awaitable<Response> {
               std::optional<std::string> model;
               if (std::string m = req.query_param("model"); !m.empty()) model = std::move(m);
               auto list = [&s, model] { return s.store->prices().list(model); };
               auto prices = co_await run_blocking(s.blocking_pool->get_executor(), std::move(list));
               if (!prices) co_return response_for(prices.error(), req);
               std::string out;
               json::Writer w(out);
               w.begin_object().field("object", "list").key("data").begin_array();
               for (const auto& r : *prices) write_price(w, r);
               w.end_array().field("has_more", false).end_object();
               co_return Response::json(200, std::move(out));
             }));
}

}  // namespace llmp::api
