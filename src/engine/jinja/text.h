#pragma once
// Python's str semantics over UTF-8: Python strings are sequences of code points, so lengths,
// indices and slices count code points, and "whitespace" is Unicode whitespace.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace llmp::engine::jinja::text {

//! Decodes the code point at `pos` and advances `pos` (an invalid byte reads as itself).
char32_t next_code_point(std::string_view s, size_t& pos);
//! Number of code points (Python's len()).
size_t length(std::string_view s);
//! True when every byte is ASCII (then byte and code point offsets agree).
bool is_ascii(std::string_view s);
//! Byte offsets of the code points of `s`, plus s.size() at the end.
std::vector<size_t> code_point_offsets(std::string_view s);

//! str.isspace() for one code point.
bool is_space(char32_t cp);
//! str.strip/lstrip/rstrip: `chars` unset strips Unicode whitespace.
std::string_view strip(std::string_view s, const std::optional<std::string_view>& chars, bool left, bool right);

//! str.split(sep, maxsplit): `sep` unset splits on runs of whitespace and drops empty parts.
std::vector<std::string> split(std::string_view s, const std::optional<std::string_view>& sep, int64_t maxsplit);
//! str.rsplit(sep, maxsplit).
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string_view>& sep, int64_t maxsplit);
//! str.splitlines(keepends).
std::vector<std::string> splitlines(std::string_view s, bool keepends);
//! str.replace(old, new, count); count < 0 replaces all.
std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count);

//! Case mapping covering ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (others are
//! left as they are, like uncased scripts).
std::string upper(std::string_view s);
std::string lower(std::string_view s);
//! str.title(): a cased letter after an uncased character starts a word.
std::string title(std::string_view s);
//! str.capitalize(): first code point upper (title) case, the rest lower case.
std::string capitalize(std::string_view s);
bool is_upper_cp(char32_t cp);
bool is_lower_cp(char32_t cp);
char32_t to_upper_cp(char32_t cp);
char32_t to_lower_cp(char32_t cp);

//! markupsafe.escape(): & < > " ' as HTML entities.
std::string html_escape(std::string_view s);

//! repr() of a str: quotes as Python picks them, escapes for non-printable characters.
void append_repr(std::string& out, std::string_view s);

//! Python str slicing s[start:stop:step] with clamped, already-resolved bounds.
std::string slice(std::string_view s, std::optional<int64_t> start, std::optional<int64_t> stop, int64_t step);

//! Resolves Python slice bounds for a sequence of `length` items into (start, stop) following
//! PySlice_AdjustIndices; returns the number of selected items.
int64_t adjust_slice(int64_t length, std::optional<int64_t>& start, std::optional<int64_t>& stop, int64_t step);

}  // namespace llmp::engine::jinja::text
