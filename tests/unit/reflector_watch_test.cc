#include "tests/unit/reflector_test_support.h"

namespace dg::k8s::reflector_test {
namespace {

TEST_F(ReflectorTest, WatchEventsAreDeliveredInOrderAndVersionAdvances) {
  ExpectInitialList();
  fake_.ExpectWatch("100",
                    {EventLine("ADDED", "pod-b", "101"), EventLine("MODIFIED", "pod-a", "102"),
                     EventLine("DELETED", "pod-b", "103")});
  fake_.ExpectWatch("103", {}).on_call = [&] {
    EXPECT_EQ(stats().resource_version, "103");
    EXPECT_EQ(stats().events, 3u);
    EXPECT_EQ(stats().errors, 0u);
  };
  Run();
  EXPECT_THAT(handler_.events,
              ElementsAre(RecordedEvent{WatchEventType::kAdded, "pod-b", "101"},
                          RecordedEvent{WatchEventType::kModified, "pod-a", "102"},
                          RecordedEvent{WatchEventType::kDeleted, "pod-b", "103"}));
  EXPECT_EQ(handler_.replaces.size(), 1u);
}

TEST_F(ReflectorTest, HandlerThrowingOnAnEventRelistsInsteadOfReplayingIt) {
  handler_.throw_on_event_for = "pod-bad";
  ExpectInitialList();
  fake_.ExpectWatch("100",
                    {EventLine("ADDED", "pod-b", "101"), EventLine("ADDED", "pod-bad", "102"),
                     EventLine("ADDED", "pod-c", "103")});
  fake_.ExpectList("", Ok(ListBody("300", "", {"pod-a", "pod-b"})));
  fake_.ExpectWatch("300", {}).on_call = [&] {
    EXPECT_EQ(stats().relists, 1u);
    EXPECT_EQ(stats().events, 1u);
    EXPECT_THAT(stats().last_error, HasSubstr("unordered_map::at"));
  };
  Run();
  EXPECT_THAT(handler_.events, ElementsAre(RecordedEvent{WatchEventType::kAdded, "pod-b", "101"}));
}

TEST_F(ReflectorTest, HandlerThrowingOnAListListsAgainAfterBackoff) {
  handler_.throw_on_next_replace = true;
  ExpectInitialList();
  fake_.ExpectList("", Ok(ListBody("200", "", {"pod-a"})));
  fake_.ExpectWatch("200", {}).on_call = [&] {
    EXPECT_EQ(stats().lists, 1u);
    EXPECT_EQ(stats().errors, 1u);
  };
  Run();
  EXPECT_TRUE(fake_.CallsOf(CallKind::kGet)[1]->io_ran_since_previous) << "no backoff";
  EXPECT_EQ(handler_.replaces.size(), 1u);
}

TEST_F(ReflectorTest, BookmarkAdvancesVersionWithoutAnEvent) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {BookmarkLine("250")});
  fake_.ExpectWatch("250", {}).on_call = [&] {
    EXPECT_EQ(stats().bookmarks, 1u);
    EXPECT_EQ(stats().events, 0u);
    EXPECT_EQ(stats().resource_version, "250");
  };
  Run();
  EXPECT_THAT(handler_.events, IsEmpty());
}

TEST_F(ReflectorTest, ErrorEvent410Relists) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {EventLine("ADDED", "pod-b", "101"), ErrorLine(410),
                            EventLine("ADDED", "pod-c", "102")});
  fake_.ExpectList("", Ok(ListBody("300", "", {"pod-a", "pod-b", "pod-c"})));
  fake_.ExpectWatch("300", {}).on_call = [&] {
    EXPECT_EQ(stats().relists, 1u);
    EXPECT_EQ(stats().lists, 2u);
    EXPECT_EQ(stats().resource_version, "300");
  };
  Run();
  const auto watches = fake_.CallsOf(CallKind::kStream);
  ASSERT_GE(watches.size(), 1u);
  EXPECT_EQ(watches[0]->lines_delivered, 2u) << "the stream must stop at the ERROR event";
  EXPECT_THAT(handler_.events, ElementsAre(RecordedEvent{WatchEventType::kAdded, "pod-b", "101"}));
  ASSERT_EQ(handler_.replaces.size(), 2u);
  EXPECT_THAT(handler_.replaces[1], ElementsAre("pod-a", "pod-b", "pod-c"));
}

TEST_F(ReflectorTest, Http410OnWatchRelists) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {}, Http(410, R"({"kind":"Status","code":410})"));
  fake_.ExpectList("", Ok(ListBody("400", "", {"pod-a"})));
  fake_.ExpectWatch("400", {}).on_call = [&] {
    EXPECT_EQ(stats().relists, 1u);
    EXPECT_EQ(stats().lists, 2u);
  };
  Run();
  EXPECT_EQ(handler_.replaces.size(), 2u);
}

TEST_F(ReflectorTest, TransportFailureRewatchesFromSameVersionWithoutRelist) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {EventLine("ADDED", "pod-b", "101")},
                    TransportError("read: Connection reset by peer"));
  fake_.ExpectWatch("101", {}).on_call = [&] {
    EXPECT_EQ(stats().errors, 1u);
    EXPECT_EQ(stats().relists, 0u);
    EXPECT_EQ(stats().lists, 1u);
    EXPECT_THAT(stats().last_error, HasSubstr("Connection reset by peer"));
  };
  Run();
  EXPECT_EQ(handler_.replaces.size(), 1u);
  const auto watches = fake_.CallsOf(CallKind::kStream);
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_TRUE(watches[1]->io_ran_since_previous) << "a failed watch is re-opened after a backoff";
}

TEST_F(ReflectorTest, MalformedLineRewatchesFromLastGoodVersion) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {EventLine("ADDED", "pod-b", "101"), R"({"type":"ADDED","object":{)",
                            EventLine("ADDED", "pod-c", "102")});
  fake_.ExpectWatch("101", {}).on_call = [&] {
    EXPECT_EQ(stats().errors, 1u);
    EXPECT_EQ(stats().relists, 0u);
  };
  Run();
  EXPECT_THAT(handler_.events, ElementsAre(RecordedEvent{WatchEventType::kAdded, "pod-b", "101"}));
  EXPECT_EQ(fake_.CallsOf(CallKind::kStream)[0]->lines_delivered, 2u);
  EXPECT_EQ(handler_.replaces.size(), 1u);
}

TEST_F(ReflectorTest, NonGoneErrorEventRewatchesFromSameVersionWithoutRelist) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {EventLine("ADDED", "pod-b", "101"), ErrorLine(500),
                            EventLine("ADDED", "pod-c", "102")});
  fake_.ExpectWatch("101", {}).on_call = [&] {
    EXPECT_EQ(stats().errors, 1u);
    EXPECT_EQ(stats().relists, 0u);
  };
  Run();
  EXPECT_EQ(fake_.CallsOf(CallKind::kStream)[0]->lines_delivered, 2u);
  EXPECT_EQ(handler_.replaces.size(), 1u);
}

TEST_F(ReflectorTest, IdleTimeoutRewatchesFromSameVersionAfterBackoff) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {BookmarkLine("120")}, KubeResponse{200, "", "idle timeout"});
  fake_.ExpectWatch("120", {}).on_call = [&] {
    EXPECT_EQ(stats().errors, 1u);
    EXPECT_THAT(stats().last_error, HasSubstr("idle timeout"));
    EXPECT_EQ(stats().relists, 0u);
  };
  Run();
  EXPECT_TRUE(fake_.CallsOf(CallKind::kStream)[1]->io_ran_since_previous);
}

TEST_F(ReflectorTest, NormalEndOfStreamRewatchesImmediately) {
  ExpectInitialList();
  fake_.ExpectWatch("100", {EventLine("ADDED", "pod-b", "101")});
  fake_.ExpectWatch("101", {}).on_call = [&] {
    EXPECT_EQ(stats().watch_restarts, 1u);
    EXPECT_EQ(stats().errors, 0u);
    EXPECT_EQ(stats().relists, 0u);
  };
  Run();
  const auto watches = fake_.CallsOf(CallKind::kStream);
  ASSERT_EQ(watches.size(), 2u);
  EXPECT_FALSE(watches[1]->io_ran_since_previous)
      << "a watch the server ended on schedule is re-opened without a backoff wait";
}

TEST_F(ReflectorTest, TimeoutSecondsLiesInWatchTimeoutToTwiceIt) {
  settings_.watch_timeout = std::chrono::seconds(30);
  ExpectInitialList();
  constexpr int kWatches = 24;
  for (int i = 0; i < kWatches; ++i) fake_.ExpectWatch("100", {});
  Run();
  const auto watches = fake_.CallsOf(CallKind::kStream);
  ASSERT_EQ(watches.size(), static_cast<size_t>(kWatches));
  std::set<int64_t> distinct;
  for (const Call* call : watches) {
    EXPECT_GE(call->timeout_seconds, 30) << call->target;
    EXPECT_LT(call->timeout_seconds, 60) << call->target;
    distinct.insert(call->timeout_seconds);
  }
  EXPECT_GT(distinct.size(), 1u) << "every watch asked for the same duration: no jitter";
}

}  // namespace
}  // namespace dg::k8s::reflector_test
