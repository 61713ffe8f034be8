#pragma once
// The OpenAI-compatible API and llama-server's extras over the served models. Every route
// checks the caller's API key as auth.mode says (see inference_auth.h).

#include "llmp/api/routes.h"

namespace llmp::api {

//! /v1/chat/completions, /v1/completions.
void add_generation_routes(net::Router& router, Services& services);
//! /v1/embeddings, /v1/rerank.
void add_embedding_routes(net::Router& router, Services& services);
//! /v1/models, /v1/models/{id}, /tokenize, /detokenize, /apply-template.
void add_model_routes(net::Router& router, Services& services);
//! 501 for OpenAI's APIs that are not served (/v1/audio, /v1/images, /v1/responses, ...).
void add_unsupported_routes(net::Router& router, Services& services);

}  // namespace llmp::api
