// The control thread's loop on its io_context: SIGINT/SIGTERM stop, SIGHUP reloads, and
// a periodic tick. Signals arrive through Asio, never in a handler on a worker.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

namespace dg {

struct ControlLoopCallbacks {
  std::function<void()> stop;    // SIGINT, SIGTERM
  std::function<void()> reload;  // SIGHUP
  std::function<void()> tick;    // every tick interval
};

class ControlLoop {
 public:
  ControlLoop(boost::asio::io_context& io, std::chrono::steady_clock::duration tick_interval,
              ControlLoopCallbacks callbacks);
  ~ControlLoop() { Stop(); }
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  void Start();
  void Stop();

 private:
  void WaitForSignal();
  void ScheduleTick();

  std::chrono::steady_clock::duration tick_interval_;
  ControlLoopCallbacks callbacks_;
  boost::asio::steady_timer tick_timer_;
  boost::asio::signal_set signals_;
};

}  // namespace dg
