"""Approvals: the persisted queue (model, queue), who may approve (authz), the Slack channel
(render, slack, slack_interactions), the CLI channel (cli_channel) and their settings."""
