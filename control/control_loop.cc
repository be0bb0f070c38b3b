#include "control/control_loop.h"

#include <csignal>

namespace dg {

ControlLoop::ControlLoop(boost::asio::io_context& io,
                         std::chrono::steady_clock::duration tick_interval,
                         ControlLoopCallbacks callbacks)
    : tick_interval_(tick_interval),
      callbacks_(std::move(callbacks)),
      tick_timer_(io),
      signals_(io, SIGINT, SIGTERM, SIGHUP) {}

void ControlLoop::Start() {
  WaitForSignal();
  ScheduleTick();
}

void ControlLoop::Stop() {
  boost::system::error_code ignored;
  tick_timer_.cancel();
  signals_.cancel(ignored);
}

void ControlLoop::WaitForSignal() {
  signals_.async_wait([this](const boost::system::error_code& error, int signal_number) {
    if (error) return;
    if (signal_number == SIGHUP) {
      callbacks_.reload();
      WaitForSignal();
      return;
    }
    callbacks_.stop();
  });
}

void ControlLoop::ScheduleTick() {
  tick_timer_.expires_after(tick_interval_);
  tick_timer_.async_wait([this](const boost::system::error_code& error) {
    if (error) return;
    callbacks_.tick();
    ScheduleTick();
  });
}

}  // namespace dg
