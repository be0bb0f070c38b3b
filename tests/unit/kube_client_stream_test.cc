#include "tests/unit/kube_client_test_support.h"

namespace dg::k8s::kube_test {
namespace {

TEST(KubeClientStreamTest, SplitsLinesAcrossChunks) {
  // Several lines per chunk, and lines that continue into the next chunk.
  TestServer server([](const SeenRequest&) {
    return ChunkedReply({Chunk("{\"n\":1}\n{\"n\":2}\n{\"n\""), Chunk(":3}\n{\"n\":"), Chunk("4"),
                         Chunk("}\n{\"n\":5}\n"), kLastChunk});
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/api/v1/pods?watch=1", milliseconds(2000));

  EXPECT_EQ(streamed.response.status, 200u);
  EXPECT_THAT(streamed.response.error, IsEmpty());
  EXPECT_THAT(streamed.lines,
              ElementsAre("{\"n\":1}", "{\"n\":2}", "{\"n\":3}", "{\"n\":4}", "{\"n\":5}"));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/api/v1/pods?watch=1");
  EXPECT_EQ(server.requests()[0].authorization, "Bearer T");
}

TEST(KubeClientStreamTest, ReassemblesLinesFromSmallReads) {
  // The chunked wire bytes arrive 7 at a time, cutting chunk headers and lines anywhere.
  const std::string wire = Chunk("{\"type\":\"ADDED\"}\n{\"type\":\"MOD") +
                           Chunk("IFIED\"}\n{\"type\":\"DELETED\"}\n") + kLastChunk;
  std::vector<std::string> pieces;
  for (std::size_t at = 0; at < wire.size(); at += 7) pieces.push_back(wire.substr(at, 7));
  TestServer server([pieces](const SeenRequest&) { return ChunkedReply(pieces, milliseconds(2)); });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_TRUE(streamed.response.ok()) << streamed.response.error;
  EXPECT_THAT(streamed.lines, ElementsAre(R"({"type":"ADDED"})", R"({"type":"MODIFIED"})",
                                          R"({"type":"DELETED"})"));
}

TEST(KubeClientStreamTest, SkipsEmptyLines) {
  TestServer server([](const SeenRequest&) {
    return ChunkedReply({Chunk("a\n\n\nb\n"), Chunk("\n"), kLastChunk});
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_TRUE(streamed.response.ok()) << streamed.response.error;
  EXPECT_THAT(streamed.lines, ElementsAre("a", "b"));
}

TEST(KubeClientStreamTest, DeliversFinalLineWithoutNewlineWhenBodyEnds) {
  TestServer server([](const SeenRequest&) {
    return ChunkedReply({Chunk("a\nlast"), kLastChunk});
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_TRUE(streamed.response.ok()) << streamed.response.error;
  EXPECT_THAT(streamed.lines, ElementsAre("a", "last"));
}

TEST(KubeClientStreamTest, StopsWhenOnLineReturnsFalse) {
  TestServer server([](const SeenRequest&) {
    Reply reply = ChunkedReply({Chunk("1\n2\n3\n")});
    reply.steps.push_back(Step{Chunk("4\n"), kStall});  // the watch would go on
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(3000),
                                      /*stop_after_lines=*/2);

  EXPECT_EQ(streamed.response.status, 200u);
  EXPECT_THAT(streamed.response.error, IsEmpty());
  EXPECT_THAT(streamed.lines, ElementsAre("1", "2"));
  EXPECT_LT(streamed.elapsed, milliseconds(1000));
}

TEST(KubeClientStreamTest, ReportsIdleTimeoutWhenServerStalls) {
  TestServer server([](const SeenRequest&) {
    Reply reply = ChunkedReply({Chunk("1\n")});
    reply.steps.push_back(Step{Chunk("2\n"), kStall});
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(200));

  EXPECT_EQ(streamed.response.status, 200u);
  EXPECT_EQ(streamed.response.error, "idle timeout");
  EXPECT_THAT(streamed.lines, ElementsAre("1"));
  EXPECT_GE(streamed.elapsed, milliseconds(200));
  EXPECT_LT(streamed.elapsed, milliseconds(2000));
}

TEST(KubeClientStreamTest, ReturnsStatusAndBodyOnHttpError) {
  const std::string status = R"({"kind":"Status","code":410,"reason":"Expired"})";
  TestServer server(Always(410, status));
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch?resourceVersion=1", milliseconds(2000));

  EXPECT_EQ(streamed.response.status, 410u);
  EXPECT_EQ(streamed.response.body, status);
  EXPECT_THAT(streamed.response.error, IsEmpty());
  EXPECT_THAT(streamed.lines, IsEmpty());
}

TEST(KubeClientStreamTest, RejectsLineLongerThan16MiB) {
  TestServer server([](const SeenRequest&) {
    const std::string piece = Chunk(std::string(64u << 10, 'x'));
    Reply reply = ChunkedReply({});
    for (int i = 0; i < 16 * 16; ++i) reply.steps.push_back(Step{piece});
    reply.steps.push_back(Step{Chunk("x")});  // one byte over the limit
    reply.steps.push_back(Step{Chunk("\n"), kStall});
    return reply;
  });
  net::io_context io;
  auto client = MakeClient(io, AccessTo(server));
  ASSERT_NE(client, nullptr);

  const Streamed streamed = RunStream(io, *client, "/watch", milliseconds(2000));

  EXPECT_THAT(streamed.response.error, HasSubstr("line longer than 16 MiB"));
  EXPECT_THAT(streamed.lines, IsEmpty());
}

}  // namespace
}  // namespace dg::k8s::kube_test
