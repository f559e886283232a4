export function generateStaticParams() {
  return [{ id: '1' }, { id: '2' }]
}

export default async function Post({ params }) {
  const { id } = await params
  return (
    <main>
      <h1>Post {id}</h1>
    </main>
  )
}
