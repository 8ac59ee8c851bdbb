CREATE TABLE "api_keys" (
	"id" varchar PRIMARY KEY NOT NULL,
	"agent_id" varchar NOT NULL,
	"key_hash" varchar NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "git_operations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"lease_id" varchar,
	"agent_id" varchar,
	"repo_url" varchar,
	"op" varchar NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"duration_ms" integer,
	"attempts" integer DEFAULT 1,
	"lock_wait_ms" integer,
	"result" varchar NOT NULL,
	"commit_sha" varchar,
	"target_branch" varchar,
	"error" text,
	"detail" jsonb
);
--> statement-breakpoint
CREATE TABLE "git_sandboxes" (
	"id" serial PRIMARY KEY NOT NULL,
	"sandbox_id" varchar NOT NULL,
	"agent_id" varchar NOT NULL,
	"task_id" varchar NOT NULL,
	"repo_url" varchar NOT NULL,
	"branch" varchar DEFAULT 'main',
	"agent_branch" varchar,
	"status" varchar DEFAULT 'initializing',
	"last_operation" varchar,
	"created_at" timestamp with time zone DEFAULT now(),
	"last_used_at" timestamp with time zone,
	"terminated_at" timestamp with time zone,
	"error_count" integer DEFAULT 0,
	"last_error" varchar,
	"config" jsonb,
	"is_pooled" boolean DEFAULT true,
	"pool_size" integer DEFAULT 1,
	"lease_id" varchar NOT NULL,
	"workdir" varchar,
	"expires_at" timestamp with time zone,
	"lease_source" varchar,
	"mode" varchar DEFAULT 'pooled',
	"released_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "api_keys_agent_id_idx" ON "api_keys" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "git_operations_lease_id_idx" ON "git_operations" USING btree ("lease_id");--> statement-breakpoint
CREATE INDEX "git_operations_started_at_idx" ON "git_operations" USING btree ("started_at");--> statement-breakpoint
CREATE INDEX "git_operations_op_idx" ON "git_operations" USING btree ("op");--> statement-breakpoint
CREATE UNIQUE INDEX "git_sandboxes_lease_id_key" ON "git_sandboxes" USING btree ("lease_id");--> statement-breakpoint
CREATE INDEX "git_sandboxes_sandbox_id_idx" ON "git_sandboxes" USING btree ("sandbox_id");--> statement-breakpoint
CREATE INDEX "git_sandboxes_agent_id_idx" ON "git_sandboxes" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "git_sandboxes_task_id_idx" ON "git_sandboxes" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "git_sandboxes_agent_branch_idx" ON "git_sandboxes" USING btree ("agent_branch");--> statement-breakpoint
CREATE INDEX "git_sandboxes_status_idx" ON "git_sandboxes" USING btree ("status");