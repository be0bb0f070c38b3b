#include "tests/unit/reflector_test_support.h"

namespace dg::k8s::reflector_test {
namespace {

TEST_F(ReflectorTest, PagedListDeliversOneReplaceThenWatchesFromLastPageVersion) {
  settings_.page_size = 2;
  fake_.ExpectList("", Ok(ListBody("100", "token-1", {"a", "b"}))).on_call = [&] {
    EXPECT_THAT(handler_.replaces, IsEmpty());
  };
  fake_.ExpectList("token-1", Ok(ListBody("100", "token-2", {"c", "d"}))).on_call = [&] {
    EXPECT_THAT(handler_.replaces, IsEmpty()) << "a page is not the complete set";
  };
  fake_.ExpectList("token-2", Ok(ListBody("105", "", {"e"})));
  fake_.ExpectWatch("105", {}).on_call = [&] {
    ASSERT_EQ(handler_.replaces.size(), 1u);
    EXPECT_THAT(handler_.replaces[0], ElementsAre("a", "b", "c", "d", "e"));
    EXPECT_EQ(stats().lists, 1u);
    EXPECT_EQ(stats().relists, 0u);
    EXPECT_EQ(stats().resource_version, "105");
  };
  Run();
  EXPECT_EQ(handler_.replaces.size(), 1u);
  EXPECT_THAT(handler_.events, IsEmpty());
}

TEST_F(ReflectorTest, SelectorsAreUrlEncodedInListAndWatch) {
  target_.field_selector = "spec.nodeName=node-a";
  target_.label_selector = "app in (web,db),tier!=cache";
  ExpectInitialList();
  fake_.ExpectWatch("100", {});
  Run();
  const auto lists = fake_.CallsOf(CallKind::kGet);
  const auto watches = fake_.CallsOf(CallKind::kStream);
  ASSERT_EQ(lists.size(), 1u);
  ASSERT_EQ(watches.size(), 1u);
  for (const Call* call : {lists[0], watches[0]}) {
    // The decoded values were checked by the fake; here the raw bytes on the wire.
    EXPECT_THAT(call->target, HasSubstr("fieldSelector=spec.nodeName%3Dnode-a")) << call->target;
    EXPECT_THAT(call->target,
                HasSubstr("labelSelector=app%20in%20%28web%2Cdb%29%2Ctier%21%3Dcache"))
        << call->target;
  }
}

TEST_F(ReflectorTest, ExpiredContinueRestartsListFromFirstPage) {
  settings_.page_size = 2;
  fake_.ExpectList("", Ok(ListBody("100", "token-1", {"old-a", "old-b"})));
  fake_.ExpectList("token-1", Http(410, R"({"kind":"Status","reason":"Expired","code":410})"));
  fake_.ExpectList("", Ok(ListBody("500", "token-2", {"new-c", "new-d"}))).on_call = [&] {
    EXPECT_THAT(handler_.replaces, IsEmpty()) << "an interrupted list must not be delivered";
    EXPECT_FALSE(stats().synced);
  };
  fake_.ExpectList("token-2", Ok(ListBody("500", "", {"new-e"})));
  fake_.ExpectWatch("500", {});
  Run();
  ASSERT_EQ(handler_.replaces.size(), 1u);
  EXPECT_THAT(handler_.replaces[0], ElementsAre("new-c", "new-d", "new-e"));
  EXPECT_EQ(stats().lists, 1u);
  EXPECT_EQ(stats().resource_version, "500");
}

TEST_F(ReflectorTest, ListFailureIsRetriedAfterBackoff) {
  fake_.ExpectList("", Http(500, "etcdserver: request timed out"));
  fake_.ExpectList("", Ok(ListBody("100", "", {"pod-a"}))).on_call = [&] {
    EXPECT_EQ(stats().errors, 1u);
    EXPECT_THAT(stats().last_error, HasSubstr("500"));
    EXPECT_FALSE(stats().synced);
  };
  fake_.ExpectWatch("100", {});
  Run();
  const auto lists = fake_.CallsOf(CallKind::kGet);
  ASSERT_EQ(lists.size(), 2u);
  EXPECT_TRUE(lists[1]->io_ran_since_previous) << "a failed list is retried after a backoff";
  EXPECT_EQ(stats().lists, 1u);
  EXPECT_EQ(stats().relists, 0u) << "a retried first list is not a relist";
  EXPECT_TRUE(stats().synced);
}

TEST_F(ReflectorTest, UnauthorizedListCountsErrorsAndNames401) {
  fake_.ExpectList("", Http(401, R"({"kind":"Status","reason":"Unauthorized","code":401})"));
  fake_.ExpectList("", Http(401, R"({"kind":"Status","reason":"Unauthorized","code":401})"));
  Run();
  EXPECT_EQ(stats().errors, 2u);
  EXPECT_THAT(stats().last_error, HasSubstr("401"));
  EXPECT_FALSE(stats().synced);
  EXPECT_EQ(stats().lists, 0u);
  EXPECT_THAT(handler_.replaces, IsEmpty());
}

TEST_F(ReflectorTest, NotSyncedUntilFirstCompleteList) {
  settings_.page_size = 1;
  fake_.ExpectList("", Http(503, "unavailable"));
  fake_.ExpectList("", Ok(ListBody("100", "token-1", {"a"}))).on_call = [&] {
    EXPECT_FALSE(stats().synced) << "a failed list does not sync";
  };
  fake_.ExpectList("token-1", Ok(ListBody("100", "", {"b"}))).on_call = [&] {
    EXPECT_FALSE(stats().synced) << "one page is not a complete list";
  };
  fake_.ExpectWatch("100", {}).on_call = [&] { EXPECT_TRUE(stats().synced); };
  // Before the reflector runs at all.
  reflector_ = std::make_unique<Reflector>(io_, fake_, target_, settings_, handler_);
  EXPECT_FALSE(reflector_->stats().synced);
  reflector_.reset();
  Run();
  EXPECT_TRUE(stats().synced);
}

}  // namespace
}  // namespace dg::k8s::reflector_test
