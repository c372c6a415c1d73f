/**
 * `medpersam models list | pull <id> | verify <dir>`: the SAM ONNX model registry. Not in this build yet.
 */
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { notAvailable } from './not-available.js';

export function registerModelsCommand(program: Command, _ctx: CliContext): void {
  const models = program.command('models').description('list, download and verify SAM ONNX models');
  models
    .command('list')
    .description('list known SAM models and which are downloaded')
    .action(async () => {
      throw notAvailable('models list (the SAM model registry)');
    });
  models
    .command('pull')
    .description('download a SAM model by id into the model cache ($MEDPERSAM_HOME or ~/.cache/medpersam)')
    .argument('<id>', 'model id (see "medpersam models list")')
    .action(async (_id: string) => {
      throw notAvailable('models pull (the SAM model registry and download)');
    });
  models
    .command('verify')
    .description('check that a folder holds a usable SAM encoder/decoder ONNX pair')
    .argument('<dir>', 'model folder')
    .action(async (_dir: string) => {
      throw notAvailable('models verify (the SAM ONNX runtime)');
    });
}
