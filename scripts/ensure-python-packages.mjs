// Makes sure the Debian python packages the tests check Hearth against are installed,
// using Debian's system python, not one on the PATH:
// - python3-onnx: every exported .onnx file goes through the ONNX project's own checker
//   (onnx.checker, full_check), independent of Hearth's writer;
// - python3-opencv: the augmentation kernels are compared byte for byte with OpenCV.
import { execSync, spawnSync } from 'node:child_process';

export const SYSTEM_PYTHON = '/usr/bin/python3';

/** The python module each Debian package provides, and what needs it. */
export const PYTHON_PACKAGES = [
  { pkg: 'python3-onnx', module: 'onnx', for: 'the ONNX export tests (onnx.checker)' },
  { pkg: 'python3-opencv', module: 'cv2', for: 'the OpenCV cross-check of the augmentation kernels' },
];

function imports(module) {
  return spawnSync(SYSTEM_PYTHON, ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;
}

export function ensurePythonPackages() {
  const missing = PYTHON_PACKAGES.filter((p) => !imports(p.module));
  if (missing.length === 0) return;
  const names = missing.map((p) => p.pkg).join(' ');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const install = `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${names}`;
  const why = missing.map((p) => `${p.pkg} (${p.for})`).join(', ');
  if (!isRoot) {
    console.error(`Missing: ${why}. Install with:\n  sudo sh -c '${install}'`);
    process.exit(1);
  }
  console.log(`Missing: ${why}; installing: ${install}`);
  execSync(install, { stdio: 'inherit', shell: '/bin/sh' });
  const still = missing.filter((p) => !imports(p.module));
  if (still.length > 0) {
    console.error(`apt-get finished but ${SYSTEM_PYTHON} still cannot import ${still.map((p) => p.module).join(', ')}.`);
    process.exit(1);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) ensurePythonPackages();
