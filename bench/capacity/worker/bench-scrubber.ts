// The MemberScrubber as the capacity bench runs it. The scrub is the sandbox side of a release
// (upstream tip read, E2B calls, the scrub script in the sandbox), which the capacity measurement
// takes out: by default this answers "clean" at once, so the coordinator's own cost is what is
// measured. CAPACITY_SCRUBBER=sdk keeps the real class (its e2b SDK calls then go to the provider
// stub and share this one workerd thread with the coordinator, which production does not do).
import { MemberScrubber, type ScrubJob, type ScrubOutcome } from '../../../src/durable/member-scrubber.ts';

export class BenchMemberScrubber extends MemberScrubber {
  override async scrub(job: ScrubJob): Promise<ScrubOutcome> {
    if ((this.env as unknown as Record<string, string | undefined>).CAPACITY_SCRUBBER === 'sdk') return super.scrub(job);
    return { clean: true, base: null, tip: null, error: null };
  }
}
