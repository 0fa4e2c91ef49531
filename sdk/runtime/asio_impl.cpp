// Asio and Asio.SSL compiled exactly once for the whole process: the kernel
// and every plugin link this library, so Asio's error categories, thread call
// stacks and service registries exist once (see docs/sdk/abi.md).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
