// Makes sure Debian's python3-onnx is installed: the export tests check every exported
// .onnx file with the ONNX project's own checker (onnx.checker, full_check), which is
// independent of Hearth's writer. Debian's system python is used, not one on the PATH.
import { execSync, spawnSync } from 'node:child_process';

export const SYSTEM_PYTHON = '/usr/bin/python3';

function hasOnnx() {
  return spawnSync(SYSTEM_PYTHON, ['-c', 'import onnx'], { stdio: 'ignore' }).status === 0;
}

export function ensurePythonOnnx() {
  if (hasOnnx()) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const install = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y python3-onnx';
  if (!isRoot) {
    console.error(`python3-onnx is missing (the ONNX export tests need its checker). Install it with:\n  sudo sh -c '${install}'`);
    process.exit(1);
  }
  console.log(`python3-onnx is missing; installing it: ${install}`);
  execSync(install, { stdio: 'inherit', shell: '/bin/sh' });
  if (!hasOnnx()) {
    console.error(`apt-get finished but ${SYSTEM_PYTHON} still cannot import onnx.`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensurePythonOnnx();
