import { getContext, setContext } from 'svelte';
import type { PageId } from './Rail.svelte';

/**
 * Going to another page from inside one (the Train page's "Edit on the Augment page"):
 * App.svelte owns which page shows, and hands this out by context rather than each page
 * reaching for a global.
 */
export interface Navigation {
  go(page: PageId): void;
}

const NAVIGATION_KEY = Symbol('hearth.navigation');

export function setNavigation(navigation: Navigation): Navigation {
  return setContext(NAVIGATION_KEY, navigation);
}

export function getNavigation(): Navigation {
  const navigation = getContext<Navigation | undefined>(NAVIGATION_KEY);
  if (!navigation) throw new Error('getNavigation() called outside the studio: App.svelte sets the Navigation context.');
  return navigation;
}
