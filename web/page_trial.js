export async function render(main) { main.append('todo'); }
