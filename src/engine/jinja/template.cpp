// Template: the public face of the interpreter.

#include "jinja/interpreter.h"
#include "jinja/parser.h"
#include "llmp/engine/jinja.h"

namespace llmp::engine::jinja {

Result<Template> Template::parse(std::string_view source) {
  auto program = detail::parse_program(source);
  if (!program) return std::unexpected(std::move(program.error()));
  return Template(std::move(*program));
}

Result<std::string> Template::render(const Value& context, const RenderOptions& options) const {
  detail::Interpreter interpreter(*program_, options);
  return interpreter.render(context);
}

}  // namespace llmp::engine::jinja
