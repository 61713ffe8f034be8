# Every dependency comes from a Debian 12 package (scripts/install-deps.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG)   # Boost::headers: Asio and Beast are header-only
find_package(fmt REQUIRED)                 # fmt::fmt
find_package(simdjson REQUIRED)            # simdjson::simdjson
find_package(SQLite3 REQUIRED)             # SQLite::SQLite3
find_package(RocksDB REQUIRED CONFIG)      # RocksDB::rocksdb
find_package(tomlplusplus REQUIRED)        # tomlplusplus::tomlplusplus: TOML with source positions
find_package(OpenSSL REQUIRED)             # OpenSSL::Crypto: SHA-256, CSPRNG; OpenSSL::SSL: https (net)
find_package(OpenMP REQUIRED)              # must precede faiss: its config uses OpenMP::OpenMP_CXX
find_package(faiss REQUIRED CONFIG)        # faiss (CPU, BLAS through Debian's alternatives)
find_package(PkgConfig REQUIRED)
# PCRE2 with UTF and JIT: the byte-level BPE pre-tokenizer regexes use Unicode classes (\p{L}).
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)  # PkgConfig::PCRE2
find_package(ICU REQUIRED COMPONENTS uc)  # ICU::uc: Unicode normalization and properties for the tokenizers
# mimalloc replaces glibc's malloc in the binary: the gateway's request path allocates many
# small objects across I/O threads, and with mimalloc the routed chat path served 24k instead of
# 18k req/s at 64 connections (bench/gateway, bench/RESULTS.md).
find_package(mimalloc 2.0 REQUIRED CONFIG)  # mimalloc (shared: overrides malloc/free process-wide)

# Boost 1.81 Asio needs no compiled parts; keep its deprecated names out.
add_compile_definitions(BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
# Each request nests a few coroutine frames (session → dispatch → middleware → handler); Asio
# recycles freed frames per thread, but only 2 per size class by default. Must be the same in
# every translation unit (it sizes a struct), hence here.
add_compile_definitions(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)
