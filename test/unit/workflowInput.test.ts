import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { deployInputProblems } from '../../src/workflows/cluster/inputChecks';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';
import { seedPlan } from '../helpers/plans';

/**
 * The cluster workflow judges its own input (any client may start it), by the same rules as the
 * CLI and the inventory loader. These are the checks it runs before touching a host.
 */
const options: DeployOptions = {
  phases: ['preflight', 'run_docker'],
  parallelism: 50,
  executorTaskQueue: 'omni-deploy@x',
  activity: DEFAULT_ACTIVITY_TUNING,
  maxHistoryEvents: 10_000,
};

describe('deployCluster input checks', () => {
  it('accepts a plan from the loader and sane options', () => {
    assert.deepEqual(deployInputProblems(seedPlan(), options), []);
  });

  it('refuses managed folders the loader would refuse, naming the setting and the rule', () => {
    const plan = seedPlan();
    plan.settings.SCRIPTS_PATH = '/srv/.';
    plan.scriptsDir = '/srv/.';
    plan.settings.ranktable_save_path = '/etc/ssh';
    plan.settings.LOG_PATH = plan.settings.MODEL_PATH;
    const problems = deployInputProblems(plan, options).join('\n');
    assert.match(problems, /plan\.settings\.SCRIPTS_PATH: path rule "normalised"/);
    assert.match(problems, /plan\.settings\.ranktable_save_path: path rule "(system-folder|ssh-keys)"/);
    assert.match(problems, /plan\.settings\.LOG_PATH: path rule "model-folder"/);
  });

  it('refuses options that would hang or loop, and unknown phases', () => {
    const problems = deployInputProblems(seedPlan(), {
      ...options,
      parallelism: 0,
      phases: ['preflight', 'deploy_everything' as never],
      activity: { ...options.activity, retry: { ...options.activity.retry, maximumAttempts: 2.5 } },
    }).join('\n');
    assert.match(problems, /options\.parallelism must be a whole number ≥ 1, got 0/);
    assert.match(problems, /maximumAttempts must be a whole number ≥ 1, got 2\.5/);
    assert.match(problems, /unknown phase\(s\) deploy_everything/);
  });

  it('refuses a plan whose instances name hosts it does not have', () => {
    const plan = seedPlan();
    plan.decode[0]!.hosts.push('ghost');
    assert.match(deployInputProblems(plan, options).join('\n'), /instance decode-0 names unknown host ghost/);
  });
});
