#include "test_model/corpus.h"

namespace llmp::engine {

std::string_view training_corpus() {
  return R"CORPUS(The quick brown fox jumps over the lazy dog. A platform team runs one binary and gets an API, a gateway,
an inference engine, metrics, traces and a console. The engine loads model files, tokenizes text exactly as the
authors did, and computes the forward pass on the CPU or the GPU. Requests arrive, wait in a queue, and are
scheduled in batches; each step mixes prefill chunks with decode tokens under a token budget.
What is the capital of France? The capital of France is Paris. How many legs does a spider have? Eight.
Please write a short poem about the sea. The sea is wide, the sea is deep, the waves are loud, the gulls don't sleep.
def fibonacci(n):
    if n < 2:
        return n
    return fibonacci(n - 1) + fibonacci(n - 2)
for (int i = 0; i < 10; ++i) { sum += values[i] * weights[i]; }
{"name": "get_weather", "arguments": {"city": "Berlin", "unit": "celsius"}}
The temperature today is 21 degrees, with 3 hours of sun and 12 mm of rain expected after 18:00.
Numbers: 0 1 2 3 4 5 6 7 8 9 10 42 100 2026 3.14159 1e-5 123456789.
Der schnelle braune Fuchs springt über den faulen Hund. Grüße aus München und Köln.
Le renard brun rapide saute par-dessus le chien paresseux. Où est la bibliothèque ? Très bien, merci.
El rápido zorro marrón salta sobre el perro perezoso. ¿Dónde está la estación? Mañana.
Быстрая коричневая лиса прыгает через ленивую собаку. Привет, как дела?
敏捷的棕色狐狸跳过了懒狗。你好，世界！今天天气很好。
素早い茶色の狐がのろまな犬を飛び越える。こんにちは、世界。
빠른 갈색 여우가 게으른 개를 뛰어넘는다. 안녕하세요.
مرحبا بالعالم. هذا نص قصير باللغة العربية.
नमस्ते दुनिया। यह हिंदी में एक छोटा वाक्य है।
Emoji: 😀 🚀 👍🏽 ❤️ 👨‍👩‍👧 🇫🇷 — and symbols: © ® ™ € £ ¥ § ¶ • … ← → ∑ √ ∞.
Whitespace:   three spaces,	a tab, and
a newline; then    four spaces.
The model answered with a function call, the tool returned a result, and the assistant summarised it for the user.
Large language models predict the next token. Sampling picks it with temperature, top-k, top-p and min-p.
)CORPUS";
}

}  // namespace llmp::engine
