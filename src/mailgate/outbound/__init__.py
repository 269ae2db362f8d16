"""Mail for other domains: the durable queue, its runner, the remote delivery and bounces."""
