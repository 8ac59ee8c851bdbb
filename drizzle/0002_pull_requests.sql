CREATE TABLE "pull_requests" (
	"id" serial PRIMARY KEY NOT NULL,
	"lease_id" varchar NOT NULL,
	"agent_id" varchar NOT NULL,
	"repo_url" varchar NOT NULL,
	"number" integer NOT NULL,
	"url" varchar NOT NULL,
	"state" varchar NOT NULL,
	"draft" boolean DEFAULT false NOT NULL,
	"auto_merge" boolean DEFAULT false NOT NULL,
	"head_branch" varchar NOT NULL,
	"base_branch" varchar NOT NULL,
	"head_sha" varchar,
	"merge_commit_sha" varchar,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"checked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"closed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "pull_requests_lease_id_key" ON "pull_requests" USING btree ("lease_id");--> statement-breakpoint
CREATE INDEX "pull_requests_state_checked_at_idx" ON "pull_requests" USING btree ("state","checked_at");