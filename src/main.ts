import { mount } from 'svelte';
import './ui/app.css';
import App from './ui/App.svelte';
import { savedForcedBackend } from './ui/compute/compute.svelte';
import { registerServiceWorker } from './ui/register-sw';
import { ComputeClient } from './worker-client/compute-client';
import { dataClient } from './worker-client/data-client';
import { analyzeService, augmentService, evaluateService, exportService, labelService, trainService } from './ui/services';

const target = document.getElementById('app');
if (!target) throw new Error('index.html lacks #app');
void registerServiceWorker();
// A backend the user forced earlier is started directly, skipping the ten-second probe.
const compute = new ComputeClient({ force: savedForcedBackend() });
export default mount(App, {
  target,
  props: { data: dataClient, compute, analyze: analyzeService(dataClient), augment: augmentService(dataClient, compute), train: trainService(compute), evaluate: evaluateService(compute, dataClient), export: exportService(compute), label: labelService(compute, dataClient) },
});
