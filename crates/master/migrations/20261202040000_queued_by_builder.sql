-- A builder's queued requests, for its page (a page of them and their count) and for the
-- queue limit: an index range, whatever the other builders hold queued. Without it, both
-- statements walk every queued request of every builder.
CREATE INDEX build_requests_builder_queue ON build_requests (builder, complete_at, claimed_by, id);
