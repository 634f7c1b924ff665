import { mount } from 'svelte';
import App from './App.svelte';
import { connectBackend } from './backend/connectBackend.ts';
import './styles.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html lacks #app');
try {
  mount(App, { target, props: { backend: connectBackend() } });
} catch (error) {
  target.textContent = error instanceof Error ? error.message : String(error);
}
