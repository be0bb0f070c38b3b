// A route whose response is rendered at most once per `max_age` and shared by every
// request in between. /metrics and /v1/stats sum every worker's counters and render
// 3-17 KB each time (~90 us of the control thread, which also runs the reloads, the
// Kubernetes watches and the heartbeat); under a scrape storm the rendering, not the
// HTTP, is what would starve it. A body is at most `max_age` old, and every value in it
// comes from one reading, so rates computed against its own uptime stay exact.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "control/rest_server.h"

namespace dg {

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

inline RouteHandler RenderedAtMostEvery(std::chrono::steady_clock::duration max_age,
                                        SteadyClock clock, RouteHandler render) {
  struct Rendered {
    std::chrono::steady_clock::time_point at;
    HttpResponse response;
  };
  auto last = std::make_shared<std::optional<Rendered>>();
  return [max_age, clock = std::move(clock), render = std::move(render), last] {
    const auto now = clock();
    // A clock that went back (only an injected one can) renders anew rather than
    // serving a body from the future.
    if (!*last || now < (*last)->at || now - (*last)->at >= max_age) {
      *last = Rendered{now, render()};
    }
    return (*last)->response;
  };
}

}  // namespace dg
